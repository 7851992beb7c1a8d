"""``flowless init / deploy / build`` as a user runs them in a project folder: the
messages of the first mistakes, and that a refused command leaves flowless.yaml as it was."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowless.cli import main


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Path]:
    folder = tmp_path / "greetings"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert main(["init"]) == 0
    capsys.readouterr()
    yield folder
    sys.modules.pop("flows", None)  # each test's project has its own flows.py
    sys.path[:] = [p for p in sys.path if p != str(folder)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_init_refuses_to_overwrite(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (project / "flows.py").read_text()
    code, _, err = run(capsys, "init")
    assert code == 1
    assert err.startswith(f"Error: {project} already has flows.py, flowless.yaml, ")
    assert "nothing was written" in err
    assert (project / "flows.py").read_text() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["deploy", "flows.py:helo", "-n", "w"],
            "Error: flowless.yaml: deployment 'w' (the new deployment), field 'entrypoint': "
            "'flows.py:helo': module 'flows' has no attribute 'helo'. Name a function "
            "decorated with @flow in that file.",
        ),
        (
            ["deploy", "flows.py:hello", "-n", "w", "-p", "nmae=Ada"],
            "Error: Deployment 'hello/w': flow 'hello' has no parameter(s) 'nmae'; its "
            "parameters are 'name'. Nothing was written to flowless.yaml.",
        ),
        (
            ["deploy", "flows.py:hello", "-n", "w", "-p", "name"],
            "Error: -p takes KEY=VALUE, got 'name'",
        ),
        (
            ["deploy", "flows.py:hello", "-n", "w", "--params", "[1]"],
            "Error: --params must be a JSON object, got '[1]'",
        ),
        (
            ["deploy", "flows.py:hello", "-n", "w", "--cron", "61 9 * * *"],
            "Error: cron '61 9 * * *' is not valid: minute 61 is out of range 0-59",
        ),
        (
            ["deploy", "flows.py:hello", "-n", "w", "--pool", "my-pool"],
            "Error: flowless has no work pools and no workers: the stack is the pool.",
        ),
    ],
)
def test_deploy_refuses_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    before = (project / "flowless.yaml").read_text()
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith(message), err
    assert (project / "flowless.yaml").read_text() == before


def test_deploy_keeps_a_schedules_slug_when_it_changes_the_cron(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "deploy", "flows.py:hello", "-n", "daily-greeting", "--cron", "0 8 * * *"
    )
    assert code == 0 and out.startswith("Updated deployment 'daily-greeting' in flowless.yaml.")
    text = (project / "flowless.yaml").read_text()
    assert "cron: 0 8 * * *" in text and "slug: morning" in text


def test_build_check_compares_the_committed_template(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run(capsys, "build", "--check")[0] == 1  # never built
    assert run(capsys, "build")[0] == 0
    assert run(capsys, "build", "--check")[:2] == (0, "The build is up to date.\n")
    # A fresh clone has template.yaml but not .flowless/ (ignored): still up to date.
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(".flowless"))
    monkeypatch.chdir(clone)
    sys.modules.pop("flows", None)
    assert run(capsys, "build", "--check")[0] == 0
    # Edited code, or a hand-edited template: stale.
    monkeypatch.chdir(project)
    sys.modules.pop("flows", None)
    template = project / "template.yaml"
    template.write_text(
        template.read_text().replace("MaximumRetryAttempts: 0", "MaximumRetryAttempts: 2")
    )
    code, _, err = run(capsys, "build", "--check")
    assert code == 1 and "changed since the last build: run `flowless build`" in err


def test_build_refuses_a_module_that_shadows_the_runtime(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "calendar.py").write_text("X = 1\n")
    (project / "flowless").mkdir()
    (project / "flowless" / "__init__.py").write_text("")
    code, _, err = run(capsys, "build")
    assert code == 1
    assert err.startswith(
        f"Error: calendar.py, flowless/ in {project} would shadow a module of the same name"
    )
    assert not (project / "template.yaml").exists()


def test_build_check_ignores_what_git_ignores(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    with open(project / ".gitignore", "a") as fh:
        fh.write("*.log\n")
    (project / "run.log").write_text("local output\n")
    assert run(capsys, "build")[0] == 0
    assert not (project / ".flowless" / "build" / "function" / "run.log").exists()
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(".flowless", "*.log"))
    monkeypatch.chdir(clone)
    sys.modules.pop("flows", None)
    assert run(capsys, "build", "--check")[:2] == (0, "The build is up to date.\n")
