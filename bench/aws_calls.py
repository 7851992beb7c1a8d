"""AWS API calls per task run, and what they cost: the numbers behind "cheaper than Step
Functions".

Runs flows on the local cloud (template.yaml's stack in moto, the handlers in local
Lambda workers) through the flow-run function, as ``aws lambda invoke`` would, and logs
every AWS call made by this process and by every Lambda worker with botocore's event
hooks (``bench/aws/instrument``). Per-task numbers are (calls of a run with N task runs -
calls of the same flow with none) / N, so the flow run's own calls are reported apart.

DynamoDB capacity is computed from the items' sizes by DynamoDB's on-demand rules (moto
does not meter it); prices are us-east-1 on-demand: Lambda $0.20 per 1M requests,
DynamoDB $0.625 per 1M write units and $0.125 per 1M read units, S3 $5 per 1M PUTs and
$0.40 per 1M GETs. Lambda compute (GB-seconds) is excluded: it is the user's code.

Per schedule slot: what one EventBridge Scheduler delivery costs the flow-run function
(a deployment of a flow with no tasks, from a manifest as ``flowless build`` writes it):
a new slot's run, the same slot delivered again (Scheduler delivers at least once), and a
slot of a paused deployment.

Usage: ``python bench/aws_calls.py [-n 20]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CODE = REPO / "bench" / "aws"
INSTRUMENT = CODE / "instrument"
sys.path[:0] = [str(REPO), str(INSTRUMENT)]

PRICE = {"invoke": 0.20, "wru": 0.625, "rru": 0.125, "s3_put": 5.00, "s3_get": 0.40}
LAMBDA_GB_SECOND = 0.0000166667  # $ per GB-second, x86
FLOW_RUN_MEMORY_GB = 0.5  # template.yaml's FlowRunMemorySize default
STEP_FUNCTIONS_PER_TRANSITION = 25.00  # $ per 1M state transitions, Standard workflows
# Targets from the issue: per uncached task run, and per cache hit.
TARGETS = {
    "uncached": {"invoke": 1, "wru": 3, "rru": 2},
    "cache hit": {"invoke": 0, "wru": 1, "rru": 1},
}


@dataclass
class Calls:
    """AWS calls in one window of the log."""

    lines: list[dict[str, Any]] = field(default_factory=list)

    def total(self, key: str) -> float:
        if key == "invoke":
            return sum(1 for c in self.lines if c["operation"] == "Invoke")
        if key == "ddb":
            return sum(1 for c in self.lines if c["service"] == "dynamodb")
        if key == "s3_put":
            return sum(1 for c in self.lines if c["operation"] == "PutObject")
        if key == "s3_get":
            return sum(1 for c in self.lines if c["operation"] == "GetObject")
        return float(sum(c[key] for c in self.lines))

    def operations(self) -> Counter[str]:
        return Counter(f"{_where(c['where'])}:{c['operation']}" for c in self.lines)


def _where(function: str) -> str:
    if function.endswith("-task-run"):
        return "task fn"
    if function.endswith("-flow-run"):
        return "flow fn"
    return "caller"


def cost(per_task: dict[str, float]) -> float:
    """$ per 1M task runs."""
    return sum(per_task.get(k, 0.0) * price for k, price in PRICE.items())


class Bench:
    def __init__(self, cloud: Any, log: Path) -> None:
        self.cloud = cloud
        self.log = log
        self.lambda_ = cloud.client("lambda")

    def run(self, flow: str, **parameters: Any) -> Calls:
        """Invoke the flow-run function once; the calls logged meanwhile."""
        return self.send(
            {"flow": f"bench_flows:{flow}", "parameters": parameters}, ("COMPLETED",)
        )

    def send(self, event: dict[str, Any], expected: tuple[str, ...]) -> Calls:
        offset = self.log.stat().st_size if self.log.exists() else 0
        response = self.lambda_.invoke(
            FunctionName=self.cloud.provisioned.flow_function_name,
            Payload=json.dumps(event),
        )
        answer = json.loads(response["Payload"].read())
        state = answer.get("state", {}).get("type") if expected else None
        if response.get("FunctionError") or (expected and state not in expected):
            raise SystemExit(f"{event} did not end {expected}: {answer}")
        with self.log.open() as f:
            f.seek(offset)
            return Calls([json.loads(line) for line in f if line.strip()])


KEYS = ("invoke", "ddb", "rru", "wru", "s3_put", "s3_get")


def per_task(with_tasks: Calls, without: Calls, n: int) -> dict[str, float]:
    return {k: (with_tasks.total(k) - without.total(k)) / n for k in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="task runs per flow run")
    parser.add_argument("--size", type=int, default=200 * 1024, help="large result, bytes")
    args = parser.parse_args()
    n = args.n

    log = Path(tempfile.mkdtemp(prefix="flowless-bench-")) / "calls.jsonl"
    os.environ["FLOWLESS_BENCH_CALL_LOG"] = str(log)
    import aws_call_log

    aws_call_log.install()
    from infra.local_cloud import CODE_PATHS, LocalCloud

    manifest = _manifest(log.with_name("flowless-manifest.json"))
    started = time.perf_counter()
    with LocalCloud(
        stack_name="flowless-bench",
        code_paths=(*CODE_PATHS, str(CODE)),
        environment={
            "PYTHONPATH": str(INSTRUMENT),
            "FLOWLESS_BENCH_CALL_LOG": str(log),
            "FLOWLESS_MANIFEST": str(manifest),  # absolute: read wherever the code is
        },
        concurrency=4,
        log_path=log.with_name("functions.log"),
    ) as cloud:
        bench = Bench(cloud, log)
        for flow, params in (
            ("sequential", {"n": 4}),
            ("mapped", {"n": 4}),
        ):  # warm the workers up: cold starts are not calls, but keep timings sane
            bench.run(flow, **params)
        rows: list[tuple[str, dict[str, float], Calls]] = []

        empty = bench.run("sequential", n=0)
        full = bench.run("sequential", n=n)
        rows.append(("uncached", per_task(full, empty, n), full))
        full = bench.run("mapped", n=n)
        rows.append(("uncached .map", per_task(full, bench.run("mapped", n=0), n), full))
        salt = uuid.uuid4().hex
        misses = bench.run("cache_hits", n=n, salt=salt)
        baseline = bench.run("cache_hits", n=0, salt=salt)
        rows.append(("cache miss", per_task(misses, baseline, n), misses))
        hits = bench.run("cache_hits", n=n, salt=salt)
        rows.append(("cache hit", per_task(hits, baseline, n), hits))
        salt = uuid.uuid4().hex
        retried = bench.run("retried", n=n, salt=salt)
        rows.append(
            ("retried once", per_task(retried, bench.run("retried", n=0, salt=salt), n), retried)
        )
        large = bench.run("large_results", n=n, size=args.size)
        rows.append(
            (
                f"{args.size // 1024} KB result",
                per_task(large, bench.run("large_results", n=0, size=args.size), n),
                large,
            )
        )
        flow_run = {k: empty.total(k) for k in KEYS}
        empty_ops = empty.operations()
        slots = _slots(bench)

    _print(n, rows, flow_run, empty_ops, time.perf_counter() - started, log)
    _print_slots(slots)


SLOT = {"deployment": "sequential/nightly", "schedule": "nine"}


def _manifest(path: Path) -> Path:
    """A manifest as ``flowless build`` writes it: one deployment of a flow whose run,
    with ``n = 0``, makes no task runs, so a slot's calls are the slot's own."""
    sys.path.insert(0, str(CODE))
    import bench_flows

    from flowless.deployments._definition import definition_from_flow
    from flowless.schedules import Cron

    definition = definition_from_flow(
        bench_flows.sequential,
        name="nightly",
        module="bench_flows",
        attribute="sequential",
        parameters={"n": 0},
        schedules=(Cron("0 9 * * *", slug="nine"),),
    )
    path.write_text(json.dumps({"format": 1, "deployments": [definition.to_json()]}))
    return path


def _slots(bench: Bench) -> list[tuple[str, Calls]]:
    rows = []
    nominal = "2027-01-04T09:00:00Z"
    event = {**SLOT, "scheduled_time": nominal}
    bench.send({**event, "scheduled_time": "2027-01-03T09:00:00Z"}, ("COMPLETED",))  # warm
    rows.append(("new slot", bench.send(event, ("COMPLETED",))))
    rows.append(("duplicate", bench.send(event, ("COMPLETED",))))
    bench.send({"action": "pause", "deployment": SLOT["deployment"]}, ())
    paused = {**event, "scheduled_time": "2027-01-05T09:00:00Z"}
    rows.append(("paused (skip)", bench.send(paused, ("CANCELLED",))))
    return rows


def _print_slots(rows: list[tuple[str, Calls]]) -> None:
    print()
    print("Per EventBridge schedule slot (Scheduler's invocation and the flow-run function's own")
    print("calls, for a flow with no tasks; add the rows above for its task runs)")
    header = f"{'slot':<16} {'invokes':>7} {'DDB calls':>9} {'RRU':>5} {'WRU':>5} {'$ / 1M':>7}"
    print(header)
    print("-" * len(header))
    for name, calls in rows:
        p = {k: calls.total(k) for k in KEYS}  # the bench's Invoke stands for Scheduler's
        print(
            f"{name:<16} {p['invoke']:>7.0f} {p['ddb']:>9.0f} {p['rru']:>5.1f} {p['wru']:>5.1f} "
            f"{cost(p) + 1.00:>7.2f}"
        )
    print(
        "$ / 1M slots: EventBridge Scheduler's $1.00 per 1M invocations, the Lambda request "
        "and the DynamoDB units (compute excluded; the flow's own tasks are the rows above)."
    )


def _print(
    n: int,
    rows: list[tuple[str, dict[str, float], Calls]],
    flow_run: dict[str, float],
    empty_ops: Counter[str],
    elapsed: float,
    log: Path,
) -> None:
    print(
        f"flowless on AWS: API calls per task run (local cloud; N = {n} task runs per flow "
        f"run; python {sys.version.split()[0]})"
    )
    header = (
        f"{'scenario':<16} {'invokes':>7} {'DDB calls':>9} {'RRU':>5} {'WRU':>5} "
        f"{'S3 put':>6} {'S3 get':>6} {'$ / 1M':>7}  target"
    )
    print(header)
    print("-" * (len(header) + 28))
    for name, p, _ in rows:
        target = TARGETS.get(name.split(" .")[0] if name != "cache hit" else name)
        verdict = ""
        if target:
            ok = all(p[k] <= v for k, v in target.items()) and p["invoke"] >= target["invoke"]
            verdict = f"invoke {target['invoke']}, WRU<={target['wru']}, RRU<={target['rru']}: " + (
                "met" if ok else "MISSED"
            )
        print(
            f"{name:<16} {p['invoke']:>7.2f} {p['ddb']:>9.2f} {p['rru']:>5.2f} {p['wru']:>5.2f} "
            f"{p['s3_put']:>6.2f} {p['s3_get']:>6.2f} {cost(p):>7.2f}  {verdict}"
        )
    print(
        f"{'flow run itself':<16} {flow_run['invoke']:>7.0f} {flow_run['ddb']:>9.0f} "
        f"{flow_run['rru']:>5.1f} {flow_run['wru']:>5.1f} {flow_run['s3_put']:>6.0f} "
        f"{flow_run['s3_get']:>6.0f} {cost(flow_run):>7.2f}  per flow run (start, finish)"
    )
    print()
    print("Calls per task run, by where they are made:")
    for name, _, calls in rows:
        ops = calls.operations() - empty_ops
        text = ", ".join(f"{op} {count / n:g}" for op, count in sorted(ops.items()))
        print(f"  {name:<16} {text}")
    print(
        f"  {'flow run itself':<16} " + ", ".join(f"{o} {c}" for o, c in sorted(empty_ops.items()))
    )
    print()
    uncached = cost(rows[0][1])
    print(
        f"$ / 1M = Lambda requests + DynamoDB on-demand units + S3 requests per 1,000,000 task "
        f"runs (compute excluded). Step Functions Standard: ${STEP_FUNCTIONS_PER_TRANSITION:.2f} "
        f"per 1M transitions, at least one per task, so >= "
        f"{STEP_FUNCTIONS_PER_TRANSITION / uncached:.0f}x an uncached flowless task run."
    )
    waiting = LAMBDA_GB_SECOND * FLOW_RUN_MEMORY_GB * 1_000_000
    print(
        f"Not in the table: the flow-run function is billed while it waits on a task run's "
        f"invocation (synchronous invoke). At the template's {FLOW_RUN_MEMORY_GB * 1024:.0f} MB "
        f"that is ${waiting:.2f} per 1M task-seconds waited; .submit/.map wait on up to "
        f"FLOWLESS_TASK_RUNNER_MAX_WORKERS runs at once for the price of one."
    )
    print(f"(ran in {elapsed:.1f} s; the functions' logs: {log.with_name('functions.log')})")


if __name__ == "__main__":
    main()
