"""A disk that fills up under a running flow: nothing is lost, nothing is reported done
that is not on disk. Real small filesystems (tmpfs), so these run only as root."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="mounting a small tmpfs to fill needs root",
)

FLOW = textwrap.dedent(
    """
    import os, sys, threading, time
    import flowless.engine._task_run as task_run
    from flowless.store._sqlite_commit import GroupCommit
    from flowless import flow, task
    from flowless.task_runners import ThreadPoolTaskRunner

    GroupCommit.RETRY_FOR = 1.0
    task_run.RESULT_RETRY_FOR = 1.0
    FILL_AT, FREE_AFTER = int(sys.argv[1]), float(sys.argv[2])
    FILLER, RAN = sys.argv[3], sys.argv[4]
    FILES = os.environ.get("FLOWLESS_RESULTS_INLINE_MAX_BYTES") == "0"

    def fill():
        fd = os.open(FILLER, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"x" * 65536)
        except OSError:
            pass
        os.close(fd)
        if FREE_AFTER >= 0:
            threading.Timer(FREE_AFTER, os.remove, [FILLER]).start()

    @task
    def step(i):
        if i == FILL_AT:
            fill()
        with open(RAN, "a") as fh:
            fh.write(f"{i}\\n")
        time.sleep(0.0005)
        return f"result {i}" if FILES else i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    def many(n: int = int(os.environ.get("TASKS", "3000"))):
        if os.environ.get("POOLED"):  # rows go through the row writer process
            for future in [step.submit(i) for i in range(n)]:
                future.result()
        else:
            for i in range(n):
                step(i)
        return "done"

    if __name__ == "__main__":
        if len(sys.argv) > 5:
            from flowless.engine import resume_flow_run
            print("RESUMED", resume_flow_run(many, sys.argv[5]))
        else:
            print("RESULT", many())
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path / "disk", "32m") as mount:
        yield mount


@contextlib.contextmanager
def _tmpfs(mount: Path, size: str) -> Iterator[Path]:
    mount.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _run(
    home: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "many.py"
    script.write_text(FLOW)
    return subprocess.run(
        [sys.executable, str(script), *args],
        env={**os.environ, "FLOWLESS_HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _recorded(home: Path) -> tuple[set[int], list[str]]:
    """The task runs on disk as completed (by the ``i`` each returned), and flow run states."""
    with sqlite3.connect(home / "flowless.db") as conn:
        done = {
            int(result)
            for (result,) in conn.execute(
                "SELECT result FROM task_runs WHERE state_type = 'COMPLETED'"
            )
        }
        states = [row[0] for row in conn.execute("SELECT state_name FROM flow_runs")]
    return done, states


@pytest.mark.parametrize("pooled", [False, True], ids=["sequential", "pooled"])
def test_a_disk_full_for_a_moment_loses_no_task_run(
    small_disk: Path, tmp_path: Path, pooled: bool
) -> None:
    home = small_disk / "home"
    ran = tmp_path / "ran.txt"
    env = {"POOLED": "1"} if pooled else {}
    done = _run(home, tmp_path, "1000", "0.3", str(small_disk / "filler"), str(ran), env=env)
    assert done.returncode == 0, done.stderr
    assert "RESULT done" in done.stdout
    # Writes into WAL space SQLite already has need no new blocks, so whether one fails
    # in the window depends on timing; if one did, it says so, and says when it landed.
    if "database or disk is full" in done.stderr:
        assert "nothing was lost" in done.stderr
    recorded, states = _recorded(home)
    assert recorded == set(range(3000))
    assert states == ["Completed"]
    assert sorted(int(i) for i in ran.read_text().split()) == list(range(3000))


@pytest.mark.parametrize("pooled", [False, True], ids=["sequential", "pooled"])
def test_a_disk_that_stays_full_fails_the_run_and_resume_reruns_only_what_was_lost(
    small_disk: Path, tmp_path: Path, pooled: bool
) -> None:
    home = small_disk / "home"
    filler = small_disk / "filler"
    ran = tmp_path / "ran.txt"
    env = {"POOLED": "1"} if pooled else {}
    first = _run(home, tmp_path, "1000", "-1", str(filler), str(ran), env=env)
    assert first.returncode != 0
    assert "RESULT" not in first.stdout
    assert "database or disk is full" in first.stderr
    assert "are not on disk and are lost when this process exits" in first.stderr
    assert "resume the flow run" in first.stderr
    kept, states = _recorded(home)
    assert states == ["Running"]  # never Completed with records missing
    assert kept and len(kept) < 3000
    first_ran = sorted(int(x) for x in ran.read_text().split())
    assert first_ran == list(range(3000))

    filler.unlink()
    with sqlite3.connect(home / "flowless.db") as conn:
        [(run_id,)] = conn.execute("SELECT id FROM flow_runs").fetchall()
    ran.write_text("")
    second = _run(home, tmp_path, "-1", "-1", str(filler), str(ran), run_id, env=env)
    assert second.returncode == 0, second.stderr
    assert "RESUMED done" in second.stdout
    again = [int(x) for x in ran.read_text().split()]
    assert not set(again) & kept  # what was on disk is replayed, not run again
    assert set(again) | kept == set(range(3000))
    recorded, states = _recorded(home)
    assert recorded == set(range(3000))
    assert states == ["Completed"]


@pytest.fixture
def small_results_disk(tmp_path: Path) -> Iterator[Path]:
    """Only the result files' folder is small: the database stays writable, so the
    task run's crash is recorded."""
    home = tmp_path / "home"
    with _tmpfs(home / "results", "4m"):
        yield home


_FILES = {"FLOWLESS_RESULTS_INLINE_MAX_BYTES": "0", "TASKS": "300"}


def test_a_result_file_written_once_the_disk_has_room(
    small_results_disk: Path, tmp_path: Path
) -> None:
    home = small_results_disk
    filler = home / "results" / "filler"
    done = _run(home, tmp_path, "2", "0.3", str(filler), str(tmp_path / "ran"), env=_FILES)
    assert done.returncode == 0, done.stderr
    assert "The result could not be stored" in done.stderr
    with sqlite3.connect(home / "flowless.db") as conn:
        locations = [r[0] for r in conn.execute("SELECT result_location FROM task_runs")]
    assert len(locations) == 300
    assert all(location and Path(location).is_file() for location in locations)


def test_a_result_file_that_cannot_be_written_crashes_the_task_run(
    small_results_disk: Path, tmp_path: Path
) -> None:
    home = small_results_disk
    filler = home / "results" / "filler"
    done = _run(home, tmp_path, "2", "-1", str(filler), str(tmp_path / "ran"), env=_FILES)
    assert done.returncode != 0
    assert "No space left on device" in done.stderr
    with sqlite3.connect(home / "flowless.db") as conn:
        rows = conn.execute(
            "SELECT state_name, state_message FROM task_runs WHERE state_type != 'COMPLETED'"
        ).fetchall()
        [(flow_state, flow_message)] = conn.execute(
            "SELECT state_name, state_message FROM flow_runs"
        ).fetchall()
    assert [r[0] for r in rows] == ["Crashed"]
    assert "No space left on device" in rows[0][1]
    assert flow_state == "Failed"  # the body saw the task run's error, as with any task
    assert "could not be stored for 1 s" in flow_message
