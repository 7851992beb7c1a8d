"""WAL size during and after a long flow run on the embedded store.

A child process runs one flow of N trivial task runs (``seq``: one after another;
``submit``: all submitted to 16 threads). This process samples the size of the
database's ``-wal`` file every 5 ms while the child runs, and once after it exits.
Targets (issue 9): peak <= 32 MB during a 100,000-task run, <= 4 MB after the process
exits (SQLite removes the file when the last connection closes cleanly).

Usage: ``python bench/wal.py [-n 100000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PEAK_TARGET_MB = 32.0
AFTER_TARGET_MB = 4.0

CHILD = textwrap.dedent(
    """
    import sys
    from flowless import flow, task
    from flowless.task_runners import ThreadPoolTaskRunner

    @task
    def step(i):
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=16))
    def long_run(n: int, mode: str):
        if mode == "seq":
            for i in range(n):
                step(i)
        else:
            futures = [step.submit(i) for i in range(n)]
            for f in futures:
                f.result()

    long_run(int(sys.argv[1]), sys.argv[2])
    """
)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _measure(n: int, mode: str) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory() as home:
        script = Path(home) / "long_run.py"
        script.write_text(CHILD)
        wal = Path(home) / "flowless.db-wal"
        env = {**os.environ, "FLOWLESS_HOME": home, "FLOWLESS_LOGGING_LEVEL": "WARNING"}
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, str(script), str(n), mode], env=env)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _size(wal))
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            raise SystemExit(f"the {mode} flow failed (exit {child.returncode})")
        after = _size(wal)
        database = _size(Path(home) / "flowless.db")
        mb = 1024 * 1024
        return peak / mb, after / mb, database / mb, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args()
    print(f"WAL of the embedded store, {args.n} task runs in one flow run (MB)")
    header = f"{'mode':<8}{'peak':>8}{'after':>8}{'db':>8}{'time s':>8}  target"
    print(header)
    print("-" * len(header))
    failed = False
    for mode in ("seq", "submit"):
        peak, after, database, seconds = _measure(args.n, mode)
        ok = peak <= PEAK_TARGET_MB and after <= AFTER_TARGET_MB
        failed |= not ok
        print(
            f"{mode:<8}{peak:>8.1f}{after:>8.1f}{database:>8.1f}{seconds:>8.1f}  "
            f"peak<={PEAK_TARGET_MB:g} after<={AFTER_TARGET_MB:g} {'ok' if ok else 'MISSED'}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
