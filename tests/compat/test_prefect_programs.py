"""Prefect-compatibility suite: real Prefect 3 programs, run against flowless.

Every ``programs/NAME.py`` is Prefect example code whose only change is its imports
(``prefect`` -> ``flowless``). ``NAME.stdout`` is the stdout that real Prefect 3.4.25
printed for it (captured, never hand-written); ``NAME.log``, when present, lists regular
expressions that must each match some line of stderr (Prefect's console log lines).
Programs named ``*_tworuns.py`` run twice against the same ``FLOWLESS_HOME`` (cache
persistence across processes); their expected stdout and stderr are both runs, in order.
``NAME.setup``, when present, holds CLI commands run first, one per line, as a Prefect
user types them after ``prefect`` (``gcl create database --limit 1``): here after
``flowless``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS_DIR = Path(__file__).parent / "programs"
PROGRAMS = sorted(PROGRAMS_DIR.glob("*.py"))
TIMEOUT_SECONDS = 60

IMPORT_LINE = re.compile(r"^(from\s+[\w.]+\s+import\s|import\s+[\w.]+)")
PREFECT_IMPORT = re.compile(r"^\s*(from|import)\s+prefect\b")
HEADER = re.compile(r"^# Prefect example: \S")


def _runs(program: Path) -> int:
    return 2 if program.stem.endswith("_tworuns") else 1


def _env(home: Path) -> dict[str, str]:
    # Programs expect default settings: drop any FLOWLESS_* configuration of the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLESS_")}
    env["FLOWLESS_HOME"] = str(home)
    return env


def _run(program: Path, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(program)],
        env=_env(home),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def _setup(program: Path, home: Path, cwd: Path) -> None:
    setup = program.with_suffix(".setup")
    if not setup.exists():
        return
    for line in setup.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            proc = subprocess.run(
                [sys.executable, "-m", "flowless", *shlex.split(line)],
                env=_env(home),
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
            assert proc.returncode == 0, f"setup `flowless {line}` failed: {proc.stderr}"


def _log_patterns(program: Path) -> list[str]:
    log_file = program.with_suffix(".log")
    if not log_file.exists():
        return []
    lines = log_file.read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_every_program_has_expected_output() -> None:
    assert PROGRAMS, f"no programs found in {PROGRAMS_DIR}"
    missing = [p.name for p in PROGRAMS if not p.with_suffix(".stdout").exists()]
    assert not missing, f"programs without a .stdout file: {missing}"
    orphans = [
        f.name
        for f in PROGRAMS_DIR.iterdir()
        if f.suffix in {".stdout", ".log", ".setup"} and not f.with_suffix(".py").exists()
    ]
    assert not orphans, f"expected-output files without a program: {orphans}"


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_matches_prefect(program: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    stdout, stderr = "", ""
    _setup(program, home, tmp_path)
    for attempt in range(_runs(program)):
        proc = _run(program, home, tmp_path)
        assert proc.returncode == 0, (
            f"{program.name} (run {attempt + 1}) exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
        stdout += proc.stdout
        stderr += proc.stderr

    expected = program.with_suffix(".stdout").read_text()
    assert stdout == expected, (
        f"{program.name}: stdout differs from Prefect's\n--- stderr ---\n{stderr}"
    )

    stderr_lines = stderr.splitlines()
    missing = [
        pattern
        for pattern in _log_patterns(program)
        if not any(re.search(pattern, line) for line in stderr_lines)
    ]
    assert not missing, (
        f"{program.name}: no stderr line matches {missing}\n--- stderr ---\n{stderr}"
    )


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_is_prefect_code(program: Path) -> None:
    """A program may differ from Prefect code only in its imports."""
    source = program.read_text()
    lines = source.splitlines()
    assert lines, f"{program.name} is empty"
    assert HEADER.match(lines[0]), (
        f"{program.name}: first line must be '# Prefect example: <what it shows>'"
    )

    as_prefect = re.sub(r"\bflowless\b", "prefect", source)
    prefect_lines = as_prefect.splitlines()
    assert not [line for line in prefect_lines if "flowless" in line.lower()], (
        f"{program.name} mentions flowless outside its imports"
    )
    for original, rewritten in zip(lines, prefect_lines, strict=True):
        if original != rewritten:
            assert IMPORT_LINE.match(original), (
                f"{program.name}: only import lines may name flowless, found: {original!r}"
            )
    assert not [line for line in lines if PREFECT_IMPORT.match(line)], (
        f"{program.name} imports prefect directly"
    )
