"""The ``flowless`` command, with Prefect's verbs where they exist."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from flowless.cli._artifacts import add_parsers as add_artifact_parsers
from flowless.cli._deployments import add_parsers as add_deployment_parsers
from flowless.cli._limits import add_parsers as add_limit_parsers
from flowless.cli._project import add_parsers as add_project_parsers
from flowless.cli._ui import add_report_parser, add_ui_parser
from flowless.exceptions import FlowlessException

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowless",
        description="Projects, deployments, runs and concurrency limits, in FLOWLESS_HOME "
        "(or on the AWS stack, with FLOWLESS_BACKEND=aws).",
    )
    from flowless import __version__

    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("version", help="print the flowless version")
    flow_run = commands.add_parser(
        "flow-run", help="list, inspect, show the logs of, cancel and delete flow runs"
    )
    verbs = flow_run.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("ls", help="recent flow runs, newest first")
    ls.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    ls.add_argument("--flow", "--flow-name", dest="flow_name", help="only runs of this flow")
    ls.add_argument("--state", help="only runs in this state type (COMPLETED, FAILED, ...)")
    ls.add_argument("--deployment", help="only runs of this deployment (flow-name/name)")
    ls.add_argument("--json", action="store_true", help="print JSON, for programs")
    ref = "flow run id, unique id prefix, or name (the newest run of that name)"
    inspect = verbs.add_parser("inspect", help="a flow run and its task runs")
    inspect.add_argument("id", help=ref)
    inspect.add_argument("--json", action="store_true", help="print JSON, for programs")
    delete = verbs.add_parser("delete", help="delete a flow run, its task runs and subflows")
    delete.add_argument("id", help=ref)
    delete.add_argument(
        "--force", action="store_true", help="delete it even if it is marked Running"
    )
    cancel = verbs.add_parser("cancel", help="stop a flow run at its next task (Cancelled)")
    cancel.add_argument("id", help=ref)
    logs = verbs.add_parser("logs", help="a flow run's log lines (its task runs' included)")
    logs.add_argument("id", help=ref)
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    logs.add_argument("--level", help="only lines at this level or above (INFO, ERROR, ...)")
    logs.add_argument("--task", help="only lines of this task run (or of every run of a task)")
    add_report_parser(verbs, ref)
    add_ui_parser(commands)
    add_artifact_parsers(commands)
    add_limit_parsers(commands)
    add_deployment_parsers(commands)
    add_project_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `flowless flow-run logs x | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 1


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        from flowless import __version__

        print(__version__)
        return 0
    from flowless.settings import current_settings

    try:
        settings = current_settings()
        if args.command in ("gcl", "global-concurrency-limit", "concurrency-limit"):
            return _limits(args, settings)
        if args.command == "deployment":
            from flowless.cli._deployments import run_deployment_command

            return run_deployment_command(args, sys.stdout, sys.stderr)
        if args.command == "ui":
            from flowless.cli._ui import ui_command

            return ui_command(args, settings, sys.stdout)
        if args.command == "flow-run" and args.verb == "report":
            from flowless.cli._ui import report_command

            return report_command(args, settings, sys.stdout)
        if args.command == "artifact":
            return _artifacts(args, settings)
        if args.command in _PROJECT_COMMANDS:
            from flowless.cli._project import run_project_command

            return run_project_command(args, sys.stdout, sys.stderr)
        return _flow_runs(args, settings)
    except (FlowlessException, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


_PROJECT_COMMANDS = (
    "init",
    "deploy",
    "serve",
    "build",
    "schedule",
    "local",
    "work-pool",
    "worker",
)


def _limits(args: argparse.Namespace, settings: Any) -> int:
    from flowless.cli._limits import run_concurrency_limit, run_gcl
    from flowless.cli._stores import open_limits

    limits = open_limits(settings)
    run = run_concurrency_limit if args.command == "concurrency-limit" else run_gcl
    return run(args, limits, sys.stdout, sys.stderr)


def _artifacts(args: argparse.Namespace, settings: Any) -> int:
    from flowless.cli._artifacts import run_artifact_command
    from flowless.cli._stores import open_run_store

    opened = open_run_store(settings)
    if opened is None:
        return run_artifact_command(args, None, sys.stdout, sys.stderr)
    try:
        return run_artifact_command(args, opened[0], sys.stdout, sys.stderr)
    finally:
        opened[0].close()


def _flow_runs(args: argparse.Namespace, settings: Any) -> int:
    from flowless.cli._flow_run import list_flow_runs
    from flowless.cli._flow_run_cancel import cancel_flow_run
    from flowless.cli._flow_run_delete import delete_flow_run
    from flowless.cli._flow_run_inspect import inspect_flow_run
    from flowless.cli._flow_run_logs import show_logs
    from flowless.cli._stores import open_run_store

    opened = open_run_store(settings, writable=args.verb in ("delete", "cancel"))
    if opened is None:
        database = settings.home / "flowless.db"
        nothing = f"nothing has run with FLOWLESS_HOME={settings.home} yet"
        if args.verb == "ls":
            print("[]" if args.json else f"No flow runs in {database} ({nothing}).")
            return 0
        print(
            f"Error: No flow run with id, id prefix or name {args.id!r} ({nothing}).",
            file=sys.stderr,
        )
        return 1
    store, results = opened
    try:
        if args.verb == "ls":
            return list_flow_runs(
                store,
                sys.stdout,
                args.limit,
                args.flow_name,
                args.state,
                args.deployment,
                args.json,
            )
        if args.verb == "delete":
            return delete_flow_run(store, sys.stdout, args.id, args.force)
        if args.verb == "cancel":
            return cancel_flow_run(store, sys.stdout, args.id)
        if args.verb == "logs":
            return show_logs(
                store, sys.stdout, sys.stderr, args.id, args.level, args.task, args.follow
            )
        return inspect_flow_run(store, results, sys.stdout, args.id, args.json)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
