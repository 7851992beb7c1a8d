"""Runs the example scripts for the tests, against flowless or (to check the tests) Prefect.

The runner starts each example in a fresh interpreter, the way a user runs it. Setting
``FLOWLESS_EXAMPLES_REFERENCE_PYTHON`` to an interpreter with Prefect installed runs
copies of the examples with ``flowless`` rewritten to ``prefect`` instead, which checks
that these tests describe real Prefect behaviour.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))  # so tests can import fake_github_api

REFERENCE_PYTHON = os.environ.get("FLOWLESS_EXAMPLES_REFERENCE_PYTHON")


@dataclass
class ExampleRunner:
    """Runs ``examples/<script>`` in a subprocess with a private FLOWLESS_HOME."""

    python: str
    scripts: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLESS_", "PREFECT_"))}
        env["FLOWLESS_HOME"] = str(self.home)
        if not REFERENCE_PYTHON:  # find the SDK even before `pip install -e .`
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO / "sdk"), env.get("PYTHONPATH")) if p
            )
        else:
            # Prefect keeps results in ~/.prefect/storage whatever PREFECT_HOME says.
            env["PREFECT_HOME"] = str(self.home)
            env["PREFECT_LOCAL_STORAGE_PATH"] = str(self.home / "storage")
        env.update(extra)
        return env

    def run(self, script: str, *args: str, timeout: float = 180, **env: str) -> Run:
        proc = subprocess.run(
            [self.python, str(self.scripts / script), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Run:
    """A finished example run; ``str()`` gives everything it printed, for assert messages."""

    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit code {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def make_runner(tmp_path: Path) -> ExampleRunner:
    """A runner whose FLOWLESS_HOME (and scripts, in reference mode) live under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    if REFERENCE_PYTHON:
        return ExampleRunner(REFERENCE_PYTHON, _reference_copy(tmp_path / "examples"), home)
    return ExampleRunner(sys.executable, EXAMPLES, home)


def _reference_copy(dest: Path) -> Path:
    """Copy the examples with imports pointed at Prefect and subprocesses at its interpreter."""
    dest.mkdir()
    for src in EXAMPLES.glob("*.py"):
        text = re.sub(r"\bflowless\b", "prefect", src.read_text())
        if src.name == "demo.py":
            old = "[sys.executable, str(PIPELINE)]"
            assert old in text, "demo.py no longer starts the pipeline the way this rewrite expects"
            text = text.replace(old, f"[{REFERENCE_PYTHON!r}, str(PIPELINE)]")
        (dest / src.name).write_text(text)
    return dest
