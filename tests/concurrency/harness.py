"""The proof tests' shared checks, on top of ``bench/limits.py`` (which runs the workers)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_limits", REPO / "bench" / "limits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_limits"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _load_bench()

HOLDER = """
import sys, time
from flowless.concurrency.sync import concurrency
with concurrency("crash", occupy=2, lease_duration=float(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def contention(
    env: Mapping[str, str], name: str, processes: bool, hold: float = 0.001
) -> tuple[int, int, float]:
    """8 workers x 200 acquisitions on ``name`` (a limit of 3), each holding its slot
    ``hold`` seconds: (acquisitions, most held at one instant, acquisitions per second)."""
    run = bench.run_workers(env, "hold", name, 8, 200, processes, hold)
    intervals = [tuple(x) for r in run.results for x in r]
    rate, peak = len(intervals) / run.elapsed, bench.most_held(intervals)
    print(f"\n{name}: {len(intervals)} acquisitions, {rate:.0f}/s, most held {peak}")
    return len(intervals), peak, rate


def rate_limited(env: Mapping[str, str], name: str) -> tuple[int, float, float]:
    """100 grants of a limit of 5 decaying 10/s, by 4 processes: (grants, how far they
    ever got ahead of 5 + 10 t, the achieved rate)."""
    run = bench.run_workers(env, "rate", name, 4, 25, processes=True)
    grants = [float(x) for r in run.results for x in r]
    achieved = bench.achieved_rate(grants)
    print(f"\n{name}: {len(grants)} grants at {achieved:.2f}/s (configured 10/s)")
    return len(grants), bench.rate_excess(grants), achieved


def kill_a_holder(env: Mapping[str, str], lease_duration: float) -> float:
    """Start a process holding both slots of ``crash``, SIGKILL it, and take the slots;
    the seconds from the kill until they were ours."""
    from flowless.concurrency.sync import concurrency

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lease_duration)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        time.sleep(lease_duration * 0.75)  # past one renewal: renewing must not outlive it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    killed = time.monotonic()
    with bench.environment(env), concurrency("crash", occupy=2, timeout_seconds=30):
        return time.monotonic() - killed


def snapshot(env: Mapping[str, str]) -> str:
    """Everything a crash must not touch: every limit but ``crash``, and the flow runs."""
    from flowless.engine import current_runtime

    with bench.environment(env):
        stored = current_runtime().limits.list_limits()  # as stored: no decay applied
        limits = [x for x in stored if getattr(x, "name", "") != "crash"]
        runs = current_runtime().store.list_flow_runs(limit=100)
        return json.dumps([repr(x) for x in (*limits, *runs)])
