"""Lambda cold start: what a function's init phase costs, beside importing boto3 alone.

Lambda's init phase imports the handler module (``Handler:
flowless.lambda_handlers.flow_run.handler``). Each row is the median over ``--repeat``
fresh processes of the time to import the module (measured inside the process, so the
interpreter's own start-up is left out, as Lambda's runtime has already started), with
the environment a deployed function has (``FLOWLESS_BACKEND=aws`` and the stack's names).
The target: a handler costs at most 1.3x boto3 alone. The handlers import boto3 only
when the first invocation builds its clients: the last row is that whole first-call
preparation (handler import, boto3, the DynamoDB/S3/Lambda clients), for honesty.

With ``--sizes`` it also builds a fresh ``flowless init`` project (``flowless build`` and
``sam build``, which needs pip to reach PyPI or a wheelhouse) and reports the unzipped
sizes of the layer and the function package.

Usage: ``python bench/coldstart.py [--repeat 15] [--sizes]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.3
MODULES = (
    ("boto3", "import boto3"),
    ("flow-run handler", "import flowless.lambda_handlers.flow_run"),
    ("task-run handler", "import flowless.lambda_handlers.task_run"),
    ("flowless (engine only)", "import flowless"),
    (
        "flow-run handler + clients",
        "import flowless.lambda_handlers.flow_run; "
        "from flowless.engine import current_runtime; current_runtime()",
    ),
)
_PROBE = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLESS_", "AWS_"))}
    env.update(
        FLOWLESS_BACKEND="aws",
        FLOWLESS_TABLE="state",
        FLOWLESS_BUCKET="results",
        FLOWLESS_TASK_FUNCTION="stack-task-run",
        FLOWLESS_FLOW_FUNCTION="stack-flow-run",
        AWS_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="stack",
        PYTHONDONTWRITEBYTECODE="0",
    )
    return env


def _time(statement: str, repeat: int) -> float:
    env = _env()
    samples = []
    for _ in range(repeat + 1):  # the first run writes .pyc files: not counted
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(statement=statement)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples[1:])


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _sizes() -> list[tuple[str, int]]:
    flowless = [sys.executable, "-m", "flowless"]
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "coldstart"
        project.mkdir()
        subprocess.run([*flowless, "init"], cwd=project, check=True, capture_output=True)
        subprocess.run([*flowless, "build"], cwd=project, check=True, capture_output=True)
        sam = Path(sys.executable).parent / "sam"
        subprocess.run(
            [str(sam), "build"], cwd=project, check=True, capture_output=True, timeout=900
        )
        built = project / ".aws-sam" / "build"
        return [
            ("layer (unzipped)", _size(built / "FlowlessLayer")),
            ("flow-run function (unzipped)", _size(built / "FlowRunFunction")),
            ("task-run function (unzipped)", _size(built / "TaskRunFunction")),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sizes", action="store_true")
    args = parser.parse_args()
    times = {name: _time(statement, args.repeat) for name, statement in MODULES}
    base = times["boto3"]
    print(f"{'import':<26}{'median ms':>10}{'x boto3':>9}  target")
    for name, seconds in times.items():
        ratio = seconds / base
        verdict = ""
        if name.endswith("handler"):
            verdict = f"<= {TARGET}x " + ("met" if ratio <= TARGET else "MISSED")
        print(f"{name:<26}{seconds * 1000:>10.1f}{ratio:>9.2f}  {verdict}")
    if args.sizes:
        print()
        for name, size in _sizes():
            print(f"{name:<30}{size / 1e6:>8.2f} MB")


if __name__ == "__main__":
    main()
