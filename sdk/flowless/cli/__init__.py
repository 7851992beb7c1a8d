"""The ``flowless`` command, with Prefect's verbs where they exist."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flowless.exceptions import FlowlessException

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowless", description="Inspect flowless runs recorded in FLOWLESS_HOME."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("version", help="print the flowless version")
    flow_run = commands.add_parser("flow-run", help="list and inspect flow runs")
    verbs = flow_run.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("ls", help="recent flow runs, newest first")
    ls.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    ls.add_argument("--flow-name", help="only runs of this flow")
    inspect = verbs.add_parser("inspect", help="a flow run and its task runs")
    inspect.add_argument("id", help="flow run id, id prefix, or name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        from flowless import __version__

        print(__version__)
        return 0
    from flowless.cli._flow_run import inspect_flow_run, list_flow_runs
    from flowless.results import LocalFileStorage, Results
    from flowless.settings import current_settings
    from flowless.store import SQLiteStore

    settings = current_settings()
    database = settings.home / "flowless.db"
    if not database.exists():
        nothing = f"nothing has run with FLOWLESS_HOME={settings.home} yet"
        if args.verb == "ls":
            print(f"No flow runs in {database} ({nothing}).")
            return 0
        print(f"Error: No flow run with id or name {args.id!r} ({nothing}).", file=sys.stderr)
        return 1
    try:
        store = SQLiteStore.open_read_only(database)  # never waits behind writing flows
        try:
            if args.verb == "ls":
                return list_flow_runs(store, sys.stdout, args.limit, args.flow_name)
            results = Results(LocalFileStorage(settings.home / "results"), 0)
            return inspect_flow_run(store, results, sys.stdout, args.id)
        finally:
            store.close()
    except FlowlessException as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
