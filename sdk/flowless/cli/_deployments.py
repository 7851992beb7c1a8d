"""``flowless deployment ls | inspect | run | pause | resume``, on either backend.

Embedded, the deployments are the ones a ``serve`` process registered under
``FLOWLESS_HOME``; on AWS, the ones the deployed flow-run function's manifest holds
(``flowless.deployments._client``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from flowless.cli._table import render, timestamp
from flowless.deployments._client import deployments_for, flow_run_view, wait_for_final
from flowless.states import StateType

__all__ = ["add_parsers", "parameters_from", "run_deployment_command"]


def add_parsers(commands: Any) -> None:
    deployment = commands.add_parser("deployment", help="list, inspect, run, pause deployments")
    verbs = deployment.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("ls", help="the deployments you can run")
    inspect = verbs.add_parser("inspect", help="one deployment: parameters, schedules, state")
    inspect.add_argument("name", help="flow-name/deployment-name")
    run = verbs.add_parser("run", help="start a flow run of a deployment")
    run.add_argument("name", help="flow-name/deployment-name")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter; VALUE is read as JSON when it parses, else as text",
    )
    run.add_argument("--params", help="parameters as one JSON object")
    run.add_argument("--watch", action="store_true", help="wait until the run is final")
    run.add_argument("--watch-interval", type=float, default=1.0, help="seconds between looks")
    run.add_argument("--watch-timeout", type=float, help="give up watching after this long")
    run.add_argument("--tag", action="append", default=[], help="a tag for the run")
    run.add_argument("--idempotency-key", help="the same key returns the same run")
    run.add_argument("--flow-run-name", help="name the run")
    for verb, what in (("pause", "stop its schedules"), ("resume", "start its schedules again")):
        parser = verbs.add_parser(verb, help=what)
        parser.add_argument("name", help="flow-name/deployment-name")


def parameters_from(params: str | None, pairs: list[str]) -> dict[str, Any]:
    """``--params '{...}'`` then each ``-p KEY=VALUE`` (VALUE read as JSON if it parses)."""
    parameters: dict[str, Any] = {}
    if params:
        try:
            loaded = json.loads(params)
        except ValueError as exc:
            raise ValueError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"--params must be a JSON object, got {params!r}")
        parameters.update(loaded)
    for item in pairs:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"-p takes KEY=VALUE, got {item!r}")
        try:
            parameters[key] = json.loads(raw)
        except ValueError:
            parameters[key] = raw
    return parameters


def _schedules(entry: dict[str, Any]) -> str:
    parts = []
    for s in entry.get("schedules", []):
        what = f"cron {s['cron']!r}" if "cron" in s else f"every {s['interval']:g}s"
        tz = s.get("timezone") or "UTC"
        parts.append(f"{what} {tz}" + ("" if s.get("active", True) else " (inactive)"))
    return "; ".join(parts) or "-"


def run_deployment_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    deployments = deployments_for()
    if args.verb == "ls":
        entries = deployments.describe()
        if not entries:
            print(
                "No deployments. Serve some with `flowless serve` (flowless.yaml) or "
                "flow.serve(...); on AWS, `flowless build` and `sam deploy` them.",
                file=out,
            )
            return 0
        rows = [
            [e["full_name"], e["id"][:8], "yes" if e["paused"] else "no", _schedules(e)]
            for e in entries
        ]
        print(render(["NAME", "ID", "PAUSED", "SCHEDULES"], rows), file=out)
        return 0
    if args.verb == "inspect":
        by_name = {e["full_name"]: e for e in deployments.describe()}
        entry = by_name.get(args.name)
        if entry is None:
            known = ", ".join(sorted(by_name)) or "none"
            print(f"Error: Deployment {args.name!r} not found (deployments: {known}).", file=err)
            return 1
        print(json.dumps(entry, indent=2, sort_keys=True), file=out)
        return 0
    if args.verb in ("pause", "resume"):
        deployments.set_paused(args.name, args.verb == "pause")
        verb = "Paused" if args.verb == "pause" else "Resumed"
        print(f"{verb} deployment {args.name!r}.", file=out)
        return 0
    return _run(deployments, args, out)


def _run(deployments: Any, args: argparse.Namespace, out: TextIO) -> int:
    parameters = parameters_from(args.params, args.param)
    print(f"Creating flow run for deployment {args.name!r}...", file=out)
    record = deployments.create_run(
        args.name,
        parameters=parameters,
        flow_run_name=args.flow_run_name,
        tags=args.tag,
        idempotency_key=args.idempotency_key,
    )
    view = flow_run_view(record, deployments.results)
    print(f"Created flow run {record.name!r}.", file=out)
    print(f"└── UUID: {record.id}", file=out)
    print(f"└── Parameters: {json.dumps(view.parameters, default=repr)}", file=out)
    print(f"└── Scheduled start time: {timestamp(record.scheduled_start_time)}", file=out)
    print(f"└── State: {record.state_name}", file=out)
    if not args.watch:
        return 0
    print(f"Watching flow run {record.name!r}...", file=out, flush=True)
    started = time.monotonic()
    final = wait_for_final(
        deployments.store,
        deployments.results,
        record.id,
        args.watch_timeout,
        args.watch_interval,
    )
    if final.state_type is StateType.COMPLETED:
        print(f"Flow run finished successfully in {final.state_name!r}.", file=out)
        return 0
    if final.state_type not in (StateType.FAILED, StateType.CANCELLED, StateType.CRASHED):
        waited = time.monotonic() - started
        print(
            f"Stopped watching after {waited:.0f}s: flow run {record.name!r} is "
            f"{final.state_name!r}.",
            file=out,
        )
        return 1
    message = f": {final.state.message}" if final.state.message else ""
    print(f"Flow run finished in state {final.state_name!r}{message}", file=out)
    return 1
