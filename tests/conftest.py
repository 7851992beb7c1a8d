"""Every test gets its own FLOWLESS_HOME, so nothing touches ~/.flowless and no test sees
another's runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowless.engine import current_runtime
from flowless.engine._runtime import close_home
from flowless.store import Store


@pytest.fixture(autouse=True)
def flowless_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "flowless-home"
    monkeypatch.setenv("FLOWLESS_HOME", str(home))
    monkeypatch.delenv("FLOWLESS_LOGGING_LEVEL", raising=False)
    monkeypatch.delenv("FLOWLESS_RESULTS_INLINE_MAX_BYTES", raising=False)
    yield home
    close_home(home)


@pytest.fixture
def store(flowless_home: Path) -> Store:
    return current_runtime().store


_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| (\w+)\s* \| (.*)$")


def log_lines(err: str) -> list[str]:
    """Console lines as ``LEVEL | Who - message``, timestamps dropped."""
    out = []
    for line in err.splitlines():
        m = _LINE.match(line)
        if m:
            out.append(f"{m.group(1)} | {m.group(2)}")
    return out
