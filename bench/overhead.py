"""Engine overhead per task run: the numbers behind "speed is a feature".

Each scenario runs in its own fresh Python process against a fresh FLOWLESS_HOME, with
console logging on (written to /dev/null, so a slow terminal does not count):

- cold:    process start + import + one flow with one task (median of several runs)
- cold+p:  the same with a typed parameter (``repos: list[str]``), as the seed pipeline has
- seq:     N trivial tasks called one after another in a flow
- fanout:  N ``.submit`` calls, then every ``.result()``
- cache:   N calls that are all cache hits (the entries are written first, not timed)
- tagged:  N calls of a task whose tag has a concurrency limit (``tag:db``, limit 10): each
           takes and gives back a slot (a lease), committed to SQLite both times

Each scenario runs once to warm up (imports, thread pool, database pages), then
``--repeat`` times; the table shows the median. Per-task numbers subtract the same flow
with no tasks. Peak RSS is the child process's ``ru_maxrss`` after all runs.
Usage: ``python bench/overhead.py [-n 1000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

TARGETS = {"cold": 0.3, "cold+p": 0.3, "seq": 0.2, "fanout": 0.4, "cache": 0.2}  # s / ms
TARGETS_TEXT = {"tagged": "-"}  # no target in the issues: reported, not judged
RSS_TARGET_MB = 80
PREFECT = {
    "cold": "8.0 s",
    "cold+p": "8.0 s",
    "seq": "4.5-5 ms",
    "fanout": "~6 ms",
    "cache": "~4 ms",
    "tagged": "-",
}


def _scenario(name: str, n: int, repeat: int) -> dict[str, float]:
    """Runs inside the child process."""
    from flowless import flow, task
    from flowless.cache_policies import INPUTS

    @task
    def noop(i: int) -> int:
        return i

    @task(cache_policy=INPUTS)
    def cached(i: int) -> int:
        return i

    @task(tags=["db"])
    def limited(i: int) -> int:
        return i

    @flow
    def empty() -> None:
        pass

    @flow
    def seq(count: int) -> None:
        for i in range(count):
            noop(i)

    @flow
    def fanout(count: int) -> None:
        futures = [noop.submit(i) for i in range(count)]
        for future in futures:
            future.result()

    @flow
    def cache(count: int) -> None:
        for i in range(count):
            cached(i)

    @flow
    def tagged(count: int) -> None:
        for i in range(count):
            limited(i)

    if name == "tagged":
        from flowless.concurrency import create_limit

        create_limit("tag:db", 10)
    body = {"seq": seq, "fanout": fanout, "cache": cache, "tagged": tagged}[name]
    empty()
    body(n)  # warm-up; for "cache" it also writes the entries every later run hits

    def timed(fn: Any, *args: Any) -> float:
        started = time.perf_counter()
        fn(*args)
        return time.perf_counter() - started

    baseline = statistics.median(timed(empty) for _ in range(repeat))
    total = statistics.median(timed(body, n) for _ in range(repeat))
    return {
        "total_s": total,
        "per_task_ms": (total - baseline) / n * 1000,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


COLD_SCRIPT = """
from flowless import flow, task

@task
def one():
    return 1

@flow
def hello():
    return one()

hello()
"""

COLD_PARAMETERS_SCRIPT = """
from flowless import flow, task

@task
def count(repos):
    return len(repos)

@flow
def hello(repos: list[str]):
    return count(repos)

hello(["PrefectHQ/prefect", "pydantic/pydantic"])
"""


def _child_env(home: str) -> dict[str, str]:
    return {**os.environ, "FLOWLESS_HOME": home}


def _cold(source: str, repeat: int) -> dict[str, float]:
    times = []
    rss = 0.0
    with tempfile.TemporaryDirectory() as home:
        script = os.path.join(home, "cold.py")
        with open(script, "w") as fh:
            fh.write(source)
        for i in range(repeat + 1):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, script],
                env=_child_env(home),
                check=True,
                stderr=subprocess.DEVNULL,
            )
            elapsed = time.perf_counter() - started
            if i:  # the first run creates the database; later ones are the everyday case
                times.append(elapsed)
            usage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            rss = max(rss, usage)
    return {"total_s": statistics.median(times), "per_task_ms": float("nan"), "rss_mb": rss}


def _run_child(name: str, n: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "-n", str(n), "--repeat", str(repeat)],
            env=_child_env(home),
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="task runs per scenario")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per scenario (median)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_scenario(args.child, args.n, args.repeat)))
        return

    cold_runs = max(args.repeat, 5)
    rows = [
        ("cold", 1, _cold(COLD_SCRIPT, cold_runs)),
        ("cold+p", 1, _cold(COLD_PARAMETERS_SCRIPT, cold_runs)),
    ]
    for name in ("seq", "fanout", "cache", "tagged"):
        rows.append((name, args.n, _run_child(name, args.n, args.repeat)))

    print(
        f"flowless engine overhead (python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
        f"median of {args.repeat} runs after a warm-up; cold: median of {max(args.repeat, 5)} "
        "fresh processes)"
    )
    header = (
        f"{'scenario':<8} {'N':>5} {'total':>9} {'per task':>10} {'target':>9} "
        f"{'peak RSS':>9} {'Prefect 3.9.1*':>15}"
    )
    print(header)
    print("-" * len(header))
    for name, n, r in rows:
        if name.startswith("cold"):
            per, target = "-", f"<={TARGETS[name]} s"
        else:
            per = f"{r['per_task_ms']:.3f} ms"
            target = TARGETS_TEXT.get(name) or f"<={TARGETS[name]} ms"
        print(
            f"{name:<8} {n:>5} {r['total_s']:>8.3f}s {per:>10} {target:>9} "
            f"{r['rss_mb']:>6.1f} MB {PREFECT[name]:>15}"
        )
    print(f"peak RSS target: <= {RSS_TARGET_MB} MB at N = 1,000 (Prefect: 190-250 MB)")
    print(
        "* Prefect 3.9.1 in its default local mode, as measured on this kind of machine and "
        "quoted in the issue; not measured by this script."
    )


if __name__ == "__main__":
    main()
