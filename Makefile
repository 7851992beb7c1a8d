# Two commands for a fresh clone: `make demo` and `make test`.
# Everything installs into .venv under the repo, from PyPI.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test unit lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(PY) examples/demo.py

test: install
	$(PY) -m pytest -q -n 2
	$(PY) -m ruff check .
	$(PY) -m mypy

unit: install
	$(PY) -m pytest -q -x

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check sdk
	$(PY) -m mypy

bench: install
	$(PY) bench/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build sdk/*.egg-info
