"""``flowless build`` of a project with many deployments: how long a user waits.

Makes a project with ``--deployments`` deployments (each its own flow module with a task,
a typed parameter and a cron schedule in a DST time zone, one in five with a ``day_or``
split), then times ``flowless build`` as a user runs it (a fresh process: import,
validation, translation, staging, template), and ``flowless build --check``.

Usage: ``python bench/build.py [--deployments 20] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = '''from flowless import flow, task


@task
def step(x: int) -> int:
    return x + {i}


@flow
def pipeline_{i}(x: int = 1, label: str = "run") -> int:
    return step(x)
'''


def make_project(root: Path, count: int) -> None:
    lines = ["name: bench-build", "deployments:"]
    for i in range(count):
        (root / f"flows_{i}.py").write_text(FLOW.format(i=i))
        cron = "0 9 1 * MON" if i % 5 == 0 else f"{i % 60} */2 * * *"
        lines += [
            f"  - name: deployment-{i}",
            f"    entrypoint: flows_{i}.py:pipeline_{i}",
            "    parameters: {x: 3}",
            "    schedules:",
            f'      - cron: "{cron}"',
            "        timezone: America/New_York",
        ]
    (root / "flowless.yaml").write_text("\n".join(lines) + "\n")
    (root / "requirements.txt").write_text("")


def timed(root: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flowless", "build", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_project(root, args.deployments)
        builds = [timed(root) for _ in range(args.repeat)]
        checks = [timed(root, "--check") for _ in range(args.repeat)]
        schedules = (root / "template.yaml").read_text().count("Type: AWS::Scheduler::Schedule")
    print(f"flowless build, {args.deployments} deployments ({schedules} EventBridge schedules)")
    print(f"{'command':<24}{'median s':>10}{'min s':>8}")
    for name, samples in (("flowless build", builds), ("flowless build --check", checks)):
        print(f"{name:<24}{statistics.median(samples):>10.2f}{min(samples):>8.2f}")


if __name__ == "__main__":
    main()
