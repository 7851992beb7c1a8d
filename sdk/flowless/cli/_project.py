"""The commands that work on a user's project folder: ``init``, ``deploy`` (add a
deployment to flowless.yaml), ``serve``, ``build`` and ``schedule explain``.

They import build code (``flowless.deploy``) lazily; the engine and the Lambda handlers
never do.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

__all__ = ["add_parsers", "run_project_command"]

_NO_POOLS = (
    "flowless has no work pools and no workers: the stack is the pool. Run deployments "
    "locally with `flowless serve` (or flow.serve()), or on AWS with `flowless build` and "
    "`sam deploy`, where each flow run is a Lambda invocation (docs/deployments.md)."
)


def add_parsers(commands: Any) -> None:
    init = commands.add_parser("init", help="start a project in this folder")
    init.add_argument("--name", help="the project's name (default: the folder's)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")

    deploy = commands.add_parser("deploy", help="add or update a deployment in flowless.yaml")
    deploy.add_argument("entrypoint", help="path/to/file.py:flow_function")
    deploy.add_argument("-n", "--name", required=True, help="the deployment's name")
    deploy.add_argument("--cron", help="a 5-field cron schedule")
    deploy.add_argument("--interval", type=float, help="a schedule every N seconds")
    deploy.add_argument("--timezone", help="the schedule's time zone (IANA name)")
    deploy.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    deploy.add_argument("--params", help="default parameters as one JSON object")
    deploy.add_argument("-d", "--description")
    deploy.add_argument("-t", "--tag", action="append", default=None)
    deploy.add_argument("--pool", "--work-queue", dest="pool", help=argparse.SUPPRESS)

    serve = commands.add_parser("serve", help="run flowless.yaml's deployments here")
    serve.add_argument("names", nargs="*", help="only these deployments (default: all)")
    serve.add_argument("--limit", type=int, help="at most this many flow runs at once")

    build = commands.add_parser("build", help="compile the project for `sam build`")
    build.add_argument("--check", action="store_true", help="exit 1 if a build is out of date")

    schedule = commands.add_parser("schedule", help="explain a deployment's schedules")
    verbs = schedule.add_subparsers(dest="verb", metavar="VERB", required=True)
    explain = verbs.add_parser("explain", help="AWS expression and the next fire times")
    explain.add_argument("name", help="deployment name (or flow-name/deployment-name)")
    explain.add_argument("-n", "--count", type=int, default=10)
    fire = verbs.add_parser("fire", help="fire one slot of a schedule now, as Scheduler would")
    fire.add_argument("name", help="flow-name/deployment-name")
    fire.add_argument("--schedule", help="the schedule's slug (default: its first)")
    fire.add_argument("--at", help="the slot's nominal time, ISO 8601 (default: this minute)")

    local = commands.add_parser(
        "local", help="serve the built project's stack on 127.0.0.1 (moto + a local Lambda)"
    )
    local.add_argument("--stack-name", help="default: the project's name")
    local.add_argument("--concurrency", type=int, default=4, help="workers per function")

    for name in ("work-pool", "worker"):
        parser = commands.add_parser(name, help="(none in flowless: see `flowless serve`)")
        parser.add_argument("rest", nargs=argparse.REMAINDER)


def run_project_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    root = Path.cwd()
    if args.command in ("work-pool", "worker"):
        print(f"Error: {_NO_POOLS}", file=err)
        return 1
    if args.command == "init":
        from flowless.deploy._init import init_project

        for line in init_project(root, name=args.name, force=args.force):
            print(line, file=out)
        return 0
    if args.command == "deploy":
        return _deploy(args, root, out, err)
    if args.command == "serve":
        return _serve(args, root, out)
    if args.command == "build":
        from flowless.deploy._build import build, check

        if args.check:
            problem = check(root)
            if problem:
                print(f"Error: {problem}", file=err)
                return 1
            print("The build is up to date.", file=out)
            return 0
        for line in build(root):
            print(line, file=out)
        return 0
    if args.command == "local":
        return _local(args, root, out)
    if args.verb == "fire":
        return _fire(args, out)
    return _explain(args, root, out)


def _local(args: argparse.Namespace, root: Path, out: TextIO) -> int:
    from flowless.deploy._build import BuildError, check
    from flowless.deploy._config import load_project
    from flowless.deploy._models import FUNCTION_CODE_URI

    problem = check(root, staged=True)
    if problem:
        raise BuildError(problem)
    try:
        from flowless.localcloud.cloud import LocalCloud, serve_until_stopped
    except ImportError as exc:
        raise BuildError(
            f"flowless local needs the local-cloud tools ({exc.name} is missing): "
            "pip install 'flowless[local]'."
        ) from None
    cloud = LocalCloud(
        template=root / "template.yaml",
        code_paths=[root / FUNCTION_CODE_URI],
        stack_name=args.stack_name or load_project(root).name,
        concurrency=args.concurrency,
        ticker=True,
    )
    serve_until_stopped(cloud.start(), out)
    return 0


def _fire(args: argparse.Namespace, out: TextIO) -> int:
    from flowless.deployments._client import deployments_for

    at = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    if args.at:
        at = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
    answer = deployments_for().fire_slot(args.name, args.schedule, at)
    print(json.dumps(answer, indent=2, sort_keys=True, default=str), file=out)
    return 0 if answer.get("state", {}).get("type") in ("COMPLETED", "SCHEDULED") else 1


def _deploy(args: argparse.Namespace, root: Path, out: TextIO, err: TextIO) -> int:
    from flowless.deploy._config import set_deployment

    if args.pool:
        print(f"Error: {_NO_POOLS}", file=err)
        return 1
    from flowless.cli._deployments import parameters_from
    from flowless.deploy._build import check_new_deployment
    from flowless.schedules import Cron, Interval

    parameters = parameters_from(args.params, args.param)
    schedule: Cron | Interval | None = None
    if args.cron is not None:
        schedule = Cron(args.cron, timezone=args.timezone)
    elif args.interval is not None:
        schedule = Interval(args.interval, timezone=args.timezone)
    check_new_deployment(
        root,
        entrypoint=args.entrypoint,
        name=args.name,
        parameters=parameters,
        schedule=schedule,
    )
    verb = set_deployment(
        root / "flowless.yaml",
        entrypoint=args.entrypoint,
        name=args.name,
        cron=args.cron,
        interval=args.interval,
        timezone=args.timezone,
        parameters=parameters or None,
        description=args.description,
        tags=args.tag,
    )
    print(f"{verb} deployment {args.name!r} in flowless.yaml.", file=out)
    print(
        "Run it here with `flowless serve`, or on AWS: `flowless build && sam build && "
        "sam deploy`.",
        file=out,
    )
    return 0


def _serve(args: argparse.Namespace, root: Path, out: TextIO) -> int:
    from flowless.deploy._build import load_definitions
    from flowless.deployments._serve import Runner

    loaded = load_definitions(root)
    if args.names:
        wanted = set(args.names)
        loaded = [(d, f) for d, f in loaded if d.name in wanted or d.full_name in wanted]
        found = {d.name for d, _ in loaded} | {d.full_name for d, _ in loaded}
        missing = sorted(wanted - found)
        if missing:
            from flowless.deployments import UnknownDeploymentError

            raise UnknownDeploymentError(
                f"flowless.yaml has no deployment(s) {', '.join(map(repr, missing))}."
            )
    Runner(loaded, limit=args.limit, out=out).run()
    return 0


def _explain(args: argparse.Namespace, root: Path, out: TextIO) -> int:
    from flowless.deploy._build import load_definitions
    from flowless.deploy._explain import explain
    from flowless.deployments import UnknownDeploymentError
    from flowless.schedules import slug_of

    loaded = load_definitions(root)
    matches = [d for d, _ in loaded if args.name in (d.name, d.full_name)]
    if not matches:
        known = ", ".join(d.full_name for d, _ in loaded) or "none"
        raise UnknownDeploymentError(
            f"flowless.yaml has no deployment {args.name!r} (deployments: {known})."
        )
    definition = matches[0]
    if not definition.schedules:
        print(f"Deployment {definition.full_name!r} has no schedules.", file=out)
        return 0
    now = datetime.now(timezone.utc)
    for schedule in definition.schedules:
        print(f"Deployment {definition.full_name!r}, schedule {slug_of(schedule)!r}:", file=out)
        print(explain(schedule, now=now, count=args.count), file=out)
        print(file=out)
    return 0
