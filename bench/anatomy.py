"""Where a sequential task run's overhead goes: the engine with parts of it switched off.

A trivial task called N times in a flow (``bench/overhead.py``'s ``seq``), in a fresh
process and ``FLOWLESS_HOME`` per configuration, console on (to /dev/null; under
valgrind, to a pipe this script reads):

- full:        as users run it
- -lines:      run log lines not kept (still shown on the console)
- -inputs:     task inputs not described on the record
- -both:       neither
- -records:    neither, and no task-run records written (what is left is the engine's
               own Python: binding, names, states, the console line)

The parts are switched off by replacing internal functions in the child process: a
diagnostic, not a setting. The differences are what each part costs a task run.

Two measures: wall time per task (median of ``--repeat`` runs minus an empty flow;
this machine's speed drifts by ~20% within minutes, so compare trees in one sitting,
and repeat), or with ``--instructions`` the instructions executed per task, in every
thread, under valgrind's callgrind (runs of 1 and 1 + N tasks after a warm-up of N,
subtracted: the warm-up prepares every statement size the batches use, a one-off of
~20M instructions per process that, counted in, added ~7k to each of 3,000 tasks).
Instruction counts do not drift with the machine, but what still depends
on time (the cancel check's read, when the committer looks, when the WAL is copied
back) moves them by a few % run to run, more on a busy machine: run it on an idle one,
and take the median of three. Under valgrind (~50x slower) the store's batch delay is
``SLOW_DELAY``, so batches are as large as at full speed: a statement's worth, 128 rows,
which a sequential flow holds in ~9 ms of its 10 ms delay (with 0.5 s, ~120 tasks under
valgrind, the delay and the statement raced, and counts swung by 10%). A tree that
commits on a timer only (9d7f920) then commits ~500 rows at a time, fewer than at
full speed: its count is, if anything, low. ``--tree PATH`` measures another checkout (say, a ``git
worktree`` of an older commit) with the same script; a part it does not have is "-".

Usage: ``python bench/anatomy.py [-n 2000] [--instructions] [--tree PATH]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIGS = {
    "full": (),
    "-lines": ("lines",),
    "-inputs": ("inputs",),
    "-both": ("lines", "inputs"),
    "-records": ("lines", "inputs", "records"),
}
WARM = 300  # tasks run before the parts are switched off
SLOW_DELAY = 2.0  # the store's batch delay under valgrind (see the module docstring)
SLOWER = 50  # how much slower a task runs under valgrind than at full speed


class Missing(Exception):
    """The tree measured has no such part."""


def _switch_off(parts: tuple[str, ...]) -> None:
    """Runs in the child, after the warm-up. A part the tree does not have is off already;
    ``Missing`` if it has none of them."""
    found = 0
    if "lines" in parts:
        try:
            from flowless.logging._stored import StoredLogHandler
        except ImportError:
            pass
        else:
            setattr(StoredLogHandler, "handle", lambda self, record: True)  # noqa: B010
            found += 1
    if "inputs" in parts:
        try:
            task_call: Any = importlib.import_module("flowless.engine._task_call")
        except ImportError:
            task_call = None
        if task_call is not None and hasattr(task_call, "task_inputs"):
            setattr(task_call, "task_inputs", lambda parameters: None)  # noqa: B010
            found += 1
    if "records" in parts:
        from flowless.store._sqlite import SQLiteStore

        def start_task_run(self: Any, run: Any) -> None:
            pass

        def finish_task_run(self: Any, run: Any, new: bool = False) -> Any:
            return run

        setattr(SQLiteStore, "start_task_run", start_task_run)  # noqa: B010
        setattr(SQLiteStore, "finish_task_run", finish_task_run)  # noqa: B010
        found += 1
    if parts and not found:
        raise Missing


def _slowed_down() -> None:
    """The store's timings under valgrind: its batch delay ``SLOW_DELAY``, and the waits
    that decide whether a batch is late (then written again by another thread) stretched
    as valgrind stretches the work they wait for, ``SLOWER`` times. Left as they are, a
    128-row statement (~30 ms inside SQLite under valgrind) was now and then taken for
    a stalled one by the committer and written twice: counts swung by 20%."""
    try:
        from flowless.store._sqlite_commit import GroupCommit
    except ImportError:  # older trees
        from flowless.store._sqlite import SQLiteStore

        SQLiteStore.COMMIT_DELAY = SLOW_DELAY  # type: ignore[attr-defined]
        return
    GroupCommit.COMMIT_DELAY = SLOW_DELAY
    GroupCommit.IDLE_GRACE *= SLOWER
    for name in ("flowless.store._sqlite_held_batches", "flowless.store._sqlite_held"):
        try:
            module: Any = importlib.import_module(name)
        except ImportError:
            continue
        for constant in ("STALL", "STALL_IN_SQLITE"):
            if hasattr(module, constant):
                setattr(module, constant, getattr(module, constant) * SLOWER)


def _child(
    parts: tuple[str, ...], n: int, repeat: int, slow: bool, warm: int = 0
) -> dict[str, Any]:
    if slow:  # under valgrind: batches as large as at full speed
        _slowed_down()
    from flowless import flow, task

    @task
    def noop(i: int) -> int:
        return i

    @flow
    def empty() -> None:
        pass

    @flow
    def seq(count: int) -> None:
        for i in range(count):
            noop(i)

    import flowless

    where = {"module": flowless.__file__}
    empty()
    seq(WARM)
    try:
        _switch_off(parts)
    except Missing:
        return {**where, "missing": True}
    if slow:
        seq(warm)  # as many as measured: every statement size is prepared before
        seq(n)
        return where

    def timed(fn: Any, *args: Any) -> float:
        started = time.perf_counter()
        fn(*args)
        return time.perf_counter() - started

    seq(n)  # with the parts off, once untimed
    baseline = statistics.median(timed(empty) for _ in range(repeat))
    total = statistics.median(timed(seq, n) for _ in range(repeat))
    return {**where, "us": (total - baseline) / n * 1e6}


def _env(tree: Path, home: str) -> dict[str, str]:
    return {**os.environ, "FLOWLESS_HOME": home, "PYTHONPATH": str(tree / "sdk")}


def _answer(done: subprocess.CompletedProcess[str], tree: Path, config: str) -> dict[str, Any]:
    """The child's answer, if it ran and measured ``tree`` (not a flowless installed
    elsewhere)."""
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or "error" in result or "module" not in result:
        failure = result.get("error") or f"exit status {done.returncode}, no answer"
        said = (done.stderr or "").strip().splitlines()[-5:]  # valgrind's, if it failed
        detail = "".join(f"\n  {line}" for line in said) if "error" not in result else ""
        sys.exit(f"the {config!r} run failed on {tree}: {failure}{detail}")
    module = Path(result["module"]).resolve()
    if not module.is_relative_to(tree / "sdk"):
        sys.exit(f"measured {module}, not {tree}: is another flowless first on sys.path?")
    return result


def _wall(tree: Path, config: str, n: int, repeat: int) -> float | None:
    with tempfile.TemporaryDirectory() as home:
        done = subprocess.run(
            [sys.executable, __file__, f"--child={config}", "-n", str(n), "--repeat", str(repeat)],
            env=_env(tree, home),
            check=False,  # the child says why it failed (``_answer``)
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the console, as in bench/overhead.py
            text=True,
        )
    result = _answer(done, tree, config)
    return None if result.get("missing") else float(result["us"])


def _collected(tree: Path, config: str, n: int, warm: int) -> int | None:
    with tempfile.TemporaryDirectory() as home:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={home}/callgrind.out",
                sys.executable,
                __file__,
                f"--child={config}",
                "-n",
                str(n),
                "--valgrind",
                "--warm",
                str(warm),
            ],
            env=_env(tree, home),
            check=False,
            capture_output=True,
            text=True,
        )
    if _answer(done, tree, config).get("missing"):
        return None
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _instructions(tree: Path, config: str, n: int) -> float | None:
    low, high = _collected(tree, config, 1, n), _collected(tree, config, n + 1, n)
    if low is None or high is None:
        return None
    return (high - low) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="task runs measured")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median)")
    parser.add_argument("--instructions", action="store_true", help="count them (valgrind)")
    parser.add_argument("--tree", type=Path, help="the checkout to measure (default: this)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--valgrind", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        try:
            answer = _child(CONFIGS[args.child], args.n, args.repeat, args.valgrind, args.warm)
        except Exception as exc:  # said in the parent's message
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
            sys.exit(1)
        print(json.dumps(answer))
        return
    tree = (args.tree or Path(__file__).resolve().parent.parent).resolve()
    if not (tree / "sdk" / "flowless" / "__init__.py").is_file():
        sys.exit(f"{tree} is not a flowless checkout (no sdk/flowless/__init__.py)")
    if args.instructions and shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    if args.instructions and args.n < 1000:
        sys.exit(
            "--instructions needs -n 1000 or more: with fewer tasks the runs hold only a few "
            "batches, and where they fall moves the count by 20%"
        )
    unit = "instructions" if args.instructions else "us"
    results: dict[str, float | None] = {}
    for config in CONFIGS:
        if args.instructions:
            results[config] = _instructions(tree, config, args.n)
        else:
            results[config] = _wall(tree, config, args.n, args.repeat)
    full = results["full"]
    print(f"per sequential task run, {tree} (N = {args.n}, python {sys.version.split()[0]})")
    header = f"{'configuration':<14} {unit + ' per task':>22} {'x full':>8} {'full minus this':>17}"
    print(header)
    print("-" * len(header))
    for config, value in results.items():
        if value is None or full is None:
            print(f"{config:<14} {'-':>22}")
            continue
        part = f"{full - value:,.1f}" if config != "full" else ""
        print(f"{config:<14} {value:>22,.1f} {value / full:>8.3f} {part:>17}")


if __name__ == "__main__":
    main()
