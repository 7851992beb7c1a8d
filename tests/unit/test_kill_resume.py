"""SIGKILL at a random moment, then resume until the flow run completes: no task whose
completion was on disk runs again, no recorded result is wrong, and the run ends with
exactly one Completed task run per call and the right result.

A subprocess runs a flow of 300 task calls (every third one sequential, a chain through
all of them; the rest submitted to eight threads, some taking another's future), each
appending its number to a side-effect file (``O_APPEND``) before it returns. The test
kills it with SIGKILL a seeded random time after its body starts, reads the store as the
dead process left it, and resumes the run in a new subprocess, which it may kill again,
until a resume completes. At-least-once is allowed (a call whose record was not on disk
yet runs again); a call whose Completed record was on disk must replay.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

N = 300
#: Seeds of the trials (one test each); every trial kills the first run, some a resume too.
SEEDS = range(10)
#: A run that is not killed must finish within this (a hang is a failure, not a wait).
RUN_TIMEOUT = 60.0
#: Resumes tried after the first kill; the last one is never killed.
MAX_RESUMES = 3

#: The values of the calls, shared by the flow (in the subprocess) and the test.
FORMULAS = textwrap.dedent(
    """
    def chain(i, acc):
        return (acc * 31 + i * i + 7) % 1_000_003

    def fan(i, base):
        return i * 1000 + base % 997
    """
)

FLOW = FORMULAS + textwrap.dedent(
    """
    import os, sys, time
    from flowless import flow, task
    from flowless.task_runners import ThreadPoolTaskRunner

    EFFECTS = os.environ["KILL_TEST_EFFECTS"]

    def effect(i):
        fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{i}\\n".encode())
        finally:
            os.close(fd)
        # 0-8 ms, the same in every process; every 25th call 40 ms, so a kill finds
        # runs recorded Running (a start is written once its run is 10 ms old)
        time.sleep(0.04 if i % 25 == 7 else (i * 7919 % 9) / 1000)

    @task(task_run_name="t-{i}")
    def chained(i: int, acc: int) -> int:
        effect(i)
        return chain(i, acc)

    @task(task_run_name="t-{i}")
    def fanned(i: int, base: int) -> int:
        effect(i)
        return fan(i, base)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    def kill_me(n: int) -> list[int]:
        print("STARTED", flush=True)
        acc, futures = 1, []
        for i in range(n):
            if i % 3 == 0:
                acc = chained(i, acc)
            elif i % 10 == 1 and futures:
                futures.append(fanned.submit(i, futures[-1]))
            else:
                futures.append(fanned.submit(i, acc))
        return [acc, sum(f.result() for f in futures)]

    if __name__ == "__main__":
        if len(sys.argv) > 1:
            from flowless.engine import resume_flow_run
            result = resume_flow_run(kill_me, sys.argv[1])
        else:
            result = kill_me(int(os.environ["KILL_TEST_N"]))
        print("RESULT", result, flush=True)
    """
)


def _expected(n: int) -> tuple[list[int], dict[int, int]]:
    """The flow's result, and each call's value (by its number), computed without flowless."""
    ns: dict[str, object] = {}
    exec(FORMULAS, ns)
    chain, fan = ns["chain"], ns["fan"]
    values: dict[int, int] = {}
    acc, fanned = 1, []
    for i in range(n):
        if i % 3 == 0:
            acc = values[i] = chain(i, acc)  # type: ignore[operator]
        else:
            base = values[fanned[-1]] if i % 10 == 1 and fanned else acc
            values[i] = fan(i, base)  # type: ignore[operator]
            fanned.append(i)
    return [acc, sum(values[i] for i in fanned)], values


@dataclass
class Attempt:
    """One process: the first run or a resume."""

    number: int
    effects: Path
    stderr: Path
    killed: bool = False
    stdout: str = ""
    returncode: int | None = None
    #: Calls whose Completed record was on disk right after this process ended.
    completed_after: set[int] = field(default_factory=set)

    def ran(self) -> list[int]:
        if not self.effects.exists():
            return []
        return [int(x) for x in self.effects.read_text().split()]

    def tail(self) -> str:
        """The end of this process's stderr, for a failure message."""
        lines = self.stderr.read_text().splitlines() if self.stderr.exists() else []
        head = f"stderr of attempt {self.number} (killed={self.killed}, rc={self.returncode}):"
        return "\n".join([head, *lines[-25:]])


def _spawn(
    script: Path, home: Path, attempt: Attempt, run_id: str | None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FLOWLESS_HOME": str(home),
        "FLOWLESS_LOGGING_LEVEL": "WARNING",
        "KILL_TEST_EFFECTS": str(attempt.effects),
        "KILL_TEST_N": str(N),
    }
    with attempt.stderr.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, str(script), *([run_id] if run_id else [])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
        )


def _wait_for_start(proc: subprocess.Popen[bytes], attempt: Attempt) -> bytes:
    """Output up to the line the flow body prints first; the process may end before."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = b""
    deadline = time.monotonic() + RUN_TIMEOUT
    while b"STARTED\n" not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            proc.wait()
            pytest.fail(f"the flow body never started\n{attempt.tail()}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break  # the process ended (a completed run's resume prints RESULT only)
            out += chunk
    return out


def _run(
    script: Path, home: Path, attempt: Attempt, run_id: str | None, kill_after: float | None
) -> None:
    proc = _spawn(script, home, attempt, run_id)
    out = _wait_for_start(proc, attempt)
    if kill_after is not None and proc.poll() is None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    try:
        rest, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the flow run did not finish within {RUN_TIMEOUT:g} s\n{attempt.tail()}")
    attempt.stdout = (out + rest).decode()
    attempt.returncode = proc.returncode
    attempt.killed = proc.returncode == -signal.SIGKILL


def _task_runs(home: Path) -> list[tuple[str, str, str, str | None, bytes | None]]:
    """Every task run on disk: name, state, flow run id, serializer, result. Read-only, so
    the WAL a killed process left behind is read, not checkpointed away before the resume
    recovers it."""
    conn = sqlite3.connect(f"file:{home / 'flowless.db'}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT name, state_type, flow_run_id, result_serializer, result FROM task_runs"
        ).fetchall()
    finally:
        conn.close()


def _flow_runs(home: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{home / 'flowless.db'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, state_name FROM flow_runs").fetchall()
    finally:
        conn.close()


def _completed(home: Path, values: dict[int, int], attempt: Attempt) -> set[int]:
    """The calls with a Completed record on disk, each checked to hold the right result."""
    done: set[int] = set()
    for name, state, _, serializer, result in _task_runs(home):
        if state != "COMPLETED":
            continue
        i = int(name.removeprefix("t-"))
        assert serializer == "json" and result is not None, (
            f"task run {name} is Completed without an inline JSON result ({serializer!r})\n"
            f"{attempt.tail()}"
        )
        stored = json.loads(result)
        assert stored == values[i], (
            f"task run {name} is recorded Completed with {stored}, but the call returns "
            f"{values[i]} (after attempt {attempt.number})\n{attempt.tail()}"
        )
        done.add(i)
    return done


@pytest.mark.parametrize("seed", SEEDS)
def test_a_run_killed_at_random_resumes_to_the_right_result(
    seed: int, flowless_home: Path, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    script = tmp_path / "kill_me.py"
    script.write_text(FLOW)
    expected, values = _expected(N)
    attempts: list[Attempt] = []

    def attempt() -> Attempt:
        made = Attempt(
            len(attempts), tmp_path / f"ran-{len(attempts)}", tmp_path / f"err-{len(attempts)}"
        )
        attempts.append(made)
        return made

    first = attempt()
    _run(script, flowless_home, first, None, kill_after=rng.uniform(0.0, 0.45))
    [(run_id, _)] = _flow_runs(flowless_home)
    first.completed_after = _completed(flowless_home, values, first)
    resumes = 0
    while "RESULT" not in attempts[-1].stdout:
        assert attempts[-1].killed, f"a run ended without a result\n{attempts[-1].tail()}"
        assert resumes < MAX_RESUMES, "the last resume is never killed; it did not complete"
        resumes += 1
        kill = resumes < MAX_RESUMES and rng.random() < 0.4
        current = attempt()
        _run(script, flowless_home, current, run_id, rng.uniform(0.0, 0.3) if kill else None)
        current.completed_after = _completed(flowless_home, values, current)

    # What was on disk when a process died is replayed by every later one, never run again.
    for before, after in itertools.pairwise(attempts):
        if not before.killed:
            continue
        for later in attempts[after.number :]:
            again = sorted(set(later.ran()) & before.completed_after)
            assert not again, (
                f"seed {seed}: task run(s) {[f't-{i}' for i in again][:20]} had a Completed "
                f"record on disk when attempt {before.number} was killed, and ran again in "
                f"attempt {later.number}\n{later.tail()}"
            )
        # and nothing completed on disk is lost by the processes that follow
        lost = sorted(before.completed_after - after.completed_after)
        assert not lost, (
            f"seed {seed}: Completed record(s) {lost[:20]} on disk after attempt "
            f"{before.number} were gone after attempt {after.number}"
        )

    last = attempts[-1]
    # (a kill may land after the result was printed, while the interpreter exits)
    assert last.returncode == 0 or last.killed, last.tail()
    assert f"RESULT {expected}" in last.stdout, (
        f"seed {seed}: expected RESULT {expected}, the last attempt printed "
        f"{last.stdout.strip()!r}\n{last.tail()}"
    )
    rows = _task_runs(flowless_home)
    assert {flow_run_id for _, _, flow_run_id, *_ in rows} == {run_id}
    names = sorted(int(name.removeprefix("t-")) for name, *_ in rows)
    assert names == list(range(N)), (
        f"seed {seed}: expected one task run per call, found {len(rows)} rows; duplicated "
        f"{sorted({i for i in names if names.count(i) > 1})[:20]}, missing "
        f"{sorted(set(range(N)) - set(names))[:20]}"
    )
    not_completed = sorted((name, state) for name, state, *_ in rows if state != "COMPLETED")
    assert not not_completed, (
        f"seed {seed}: the flow run completed, but these task runs are recorded otherwise (a "
        f"killed process's row kept over the resume's?): {not_completed[:20]}"
    )
    assert _completed(flowless_home, values, last) == set(range(N))
    assert _flow_runs(flowless_home) == [(run_id, "Completed")]
    ran = [i for a in attempts for i in a.ran()]
    assert set(ran) == set(range(N)), f"seed {seed}: never ran {sorted(set(range(N)) - set(ran))}"
