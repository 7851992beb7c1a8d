# Two commands for a fresh clone: `make demo` and `make test`.
# Everything installs into .venv under the repo, from PyPI.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test unit lint typecheck bench local clean browser

install: $(STAMP)

# The demo needs only flowless and httpx (its fake GitHub API's client): no dev tools.
DEMO_STAMP := $(VENV)/.demo-installed
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[examples]'
	touch $@

$(STAMP): pyproject.toml sdk/requirements.txt examples/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(MAKE) wheelhouse
	touch $(STAMP)

# Wheels of what the Lambda functions ship (layer + examples), for python3.11 x86_64: the
# test of `sam build` installs from here with no index, so the suite itself never downloads.
WHEELHOUSE := $(VENV)/wheelhouse
.PHONY: wheelhouse
wheelhouse:
	$(PY) -m pip download --quiet --disable-pip-version-check --dest $(WHEELHOUSE) \
		--requirement sdk/requirements.txt --requirement examples/requirements.txt \
		--only-binary=:all: --platform manylinux2014_x86_64 --python-version 311 \
		--implementation cp

demo: $(DEMO_STAMP)
	$(PY) examples/demo.py

# The UI's browser tests drive Debian's Chromium (never a downloaded browser): installed
# here when it is missing and this is root on Debian; elsewhere those tests are skipped
# and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the UI's browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is not installed: the UI's browser tests will be skipped"; fi; }

test: install browser
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
	$(PY) bench/coldstart.py
	$(PY) bench/build.py
	$(PY) bench/aws_calls.py
	$(PY) bench/limits.py
	$(PY) bench/commit_lag.py || true
	$(PY) bench/wal.py
	$(PY) bench/ui.py

# template.yaml's stack on 127.0.0.1 (moto + a local Lambda) until Ctrl-C; it prints the
# variables that point flowless (and the AWS CLI, boto3) at it.
local: install
	$(PY) -m infra.local_cloud

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build sdk/*.egg-info

# `sam build` runs these (template.yaml, `BuildMethod: makefile`): a function's code is the
# handlers and the user's flows, as top-level modules; the SDK ships in FlowlessLayer.
.PHONY: build-FlowRunFunction build-TaskRunFunction
build-FlowRunFunction build-TaskRunFunction:
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set: run `sam build`, not make))
	cp handlers/*.py examples/*.py "$(ARTIFACTS_DIR)/"
	python3.11 -m pip install --quiet --disable-pip-version-check \
		--requirement examples/requirements.txt --target "$(ARTIFACTS_DIR)" \
		--only-binary=:all: --platform manylinux2014_x86_64 --python-version 311 \
		--implementation cp
