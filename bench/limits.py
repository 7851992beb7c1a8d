"""Concurrency limits under contention, and rate limits against the clock, on both stores.

- contention: W workers (threads in one process, or separate processes) each take a slot
  of a limit of 3 with ``concurrency()`` A times, holding it ~1 ms (20 ms on the local
  cloud, whose DynamoDB serves one request at a time, ~6 ms each: shorter holds would
  rarely overlap there). Every holder records
  the interval it held the slot; the table shows the most held at any instant (must be
  <= 3) and acquisitions per second.
- rate: ``rate_limit()`` on a limit of 5 with decay 10/s, 100 grants shared by 4 workers.
  The grants' times are checked against "by time t, at most 5 + 10 t" and the achieved
  rate (after the first 5) is compared with the configured one.

SQLite is the embedded store in a temporary FLOWLESS_HOME; DynamoDB is the local cloud's
table (moto's server, requests serialised as DynamoDB's per-item atomicity would), reached
over HTTP as in production. ``tests/concurrency`` and ``tests/e2e/test_limits_aws.py`` run
the same functions with smaller counts and assert the invariants.

Usage: ``python bench/limits.py [--workers 8] [--acquisitions 200] [--stores sqlite,dynamodb]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LIMIT = 3
RATE_LIMIT, RATE_DECAY, RATE_GRANTS = 5, 10.0, 100


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run with ``env`` in os.environ (where flowless reads its settings)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- what one worker does ------------------------------------------------------------------


def hold_slots(name: str, count: int, hold: float) -> list[tuple[float, float]]:
    """``count`` times: take a slot of ``name``, hold it, give it back; the intervals."""
    from flowless.concurrency.sync import concurrency

    intervals = []
    for _ in range(count):
        with concurrency(name):
            start = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process
            time.sleep(hold)
            intervals.append((start, time.monotonic()))
    return intervals


def take_rate(name: str, count: int) -> list[float]:
    """``count`` rate-limit grants; the clock time each was granted at."""
    from flowless.concurrency._acquire import acquire
    from flowless.engine import current_runtime

    limits = current_runtime().limits
    return [acquire(limits, [name], 1, lease_duration=None).at for _ in range(count)]


def _worker(argv: list[str]) -> int:
    kind, name, count, start_at = argv[0], argv[1], int(argv[2]), float(argv[3])
    hold = float(argv[4])
    from flowless.engine import current_runtime

    current_runtime()  # imports and connections before the start line
    time.sleep(max(0.0, start_at - time.time()))
    out = hold_slots(name, count, hold) if kind == "hold" else take_rate(name, count)
    print(json.dumps(out))
    return 0


# -- running W of them ---------------------------------------------------------------------


@dataclass
class Run:
    results: list[list[object]]
    elapsed: float


def run_workers(
    env: Mapping[str, str],
    kind: str,
    name: str,
    workers: int,
    count: int,
    processes: bool,
    hold: float = 0.001,
) -> Run:
    if not processes:
        results: list[list[object]] = [[] for _ in range(workers)]
        barrier = threading.Barrier(workers)

        def work(i: int) -> None:
            barrier.wait()
            if kind == "hold":
                results[i] = list(hold_slots(name, count, hold))
            else:
                results[i] = list(take_rate(name, count))

        with environment(env):
            from flowless.engine import current_runtime

            current_runtime()
            threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return Run(results, time.monotonic() - started)
    start_at = time.time() + 3.0
    child_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                kind,
                name,
                str(count),
                str(start_at),
                str(hold),
            ],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    elapsed = time.time() - start_at
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode:
            raise RuntimeError(f"a worker failed ({proc.returncode}):\n{err}")
    return Run([json.loads(out) for out, _ in outputs], elapsed)


def most_held(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at any one instant (a release at t comes before a take at t)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    held = peak = 0
    for _, step in events:
        held += step
        peak = max(peak, held)
    return peak


def rate_excess(grants: list[float]) -> float:
    """How far the grants ever got ahead of limit + decay * t (<= 0 means never)."""
    grants = sorted(grants)
    t0 = grants[0]
    return max(i + 1 - (RATE_LIMIT + RATE_DECAY * (at - t0)) for i, at in enumerate(grants))


def achieved_rate(grants: list[float]) -> float:
    grants = sorted(grants)
    return (len(grants) - RATE_LIMIT) / (grants[-1] - grants[0])


# -- the table -----------------------------------------------------------------------------


def _stores(names: list[str]) -> Iterator[tuple[str, dict[str, str], object]]:
    if "sqlite" in names:
        home = tempfile.mkdtemp(prefix="flowless-limits-")
        yield "sqlite", {"FLOWLESS_HOME": home, "FLOWLESS_BACKEND": "local"}, None
    if "dynamodb" in names:
        from infra.local_cloud import LocalCloud

        with LocalCloud(stack_name="flowless-limits") as cloud:
            env = {**cloud.env, "FLOWLESS_HOME": tempfile.mkdtemp(prefix="flowless-limits-")}
            yield "dynamodb", env, cloud


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        return _worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--acquisitions", type=int, default=200, help="per worker")
    parser.add_argument("--stores", default="sqlite,dynamodb")
    args = parser.parse_args(argv)
    print(
        f"flowless concurrency limits: {args.workers} workers x {args.acquisitions} "
        f"acquisitions on a limit of {LIMIT}; rate limit {RATE_LIMIT} with decay "
        f"{RATE_DECAY:g}/s, {RATE_GRANTS} grants (python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cpus)"
    )
    header = (
        f"{'store':<9} {'workers':<10} {'acquisitions':>12} {'seconds':>8} {'acq/s':>7} "
        f"{'most held':>9}"
    )
    print(header)
    print("-" * len(header))
    rates = []
    for store, env, _ in _stores(args.stores.split(",")):
        from flowless.concurrency import create_limit

        with environment(env):
            for i in range(2):
                create_limit(f"contended-{i}", LIMIT)
            create_limit("rated", RATE_LIMIT, slot_decay_per_second=RATE_DECAY)
        # moto serves one DynamoDB request at a time (~6 ms): holders there hold 20 ms, or
        # they would rarely overlap and the limit would never be reached.
        hold = 0.02 if store == "dynamodb" else 0.001
        for i, processes in enumerate((False, True)):
            run = run_workers(
                env, "hold", f"contended-{i}", args.workers, args.acquisitions, processes, hold
            )
            intervals = [tuple(x) for r in run.results for x in r]
            total = len(intervals)
            mode = "processes" if processes else "threads"
            peak = most_held(intervals)  # type: ignore[arg-type]
            rate = total / run.elapsed
            print(
                f"{store:<9} {mode:<10} {total:>12} {run.elapsed:>8.2f} {rate:>7.0f} "
                f"{peak:>9}{'' if peak <= LIMIT else '  VIOLATED'}"
            )
        run = run_workers(env, "rate", "rated", 4, RATE_GRANTS // 4, processes=True)
        grants = [float(x) for r in run.results for x in r]  # type: ignore[arg-type]
        rates.append((store, achieved_rate(grants), rate_excess(grants)))
    print()
    for store, rate, excess in rates:
        verdict = "held" if excess <= 1e-6 else f"VIOLATED by {excess:.2f}"
        print(
            f"rate on {store}: {rate:.2f} grants/s after the first {RATE_LIMIT} "
            f"(configured {RATE_DECAY:g}/s); 'at most {RATE_LIMIT} + {RATE_DECAY:g} t by t': "
            f"{verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
