"""``flowless artifact``: ``ls`` (each key's newest artifact) and ``inspect KEY`` (every
version of a key, as JSON, newest first), as Prefect's ``prefect artifact`` prints them.

Unkeyed artifacts are only in their runs (``Store.list_artifacts(flow_run_id=...)``), as
in Prefect, whose ``artifact ls`` lists the latest artifact of each key.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from flowless.cli._table import iso, render, terminal_width, timestamp
from flowless.store import ArtifactRecord, Store

__all__ = ["add_parsers", "artifact_json", "run_artifact_command"]


def add_parsers(commands: Any) -> None:
    artifact = commands.add_parser("artifact", help="list and inspect artifacts, by key")
    verbs = artifact.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("ls", help="the newest artifact of each key, newest first")
    ls.add_argument("--limit", type=int, default=100, help="how many keys (default 100)")
    inspect = verbs.add_parser("inspect", help="every version of an artifact key, as JSON")
    inspect.add_argument("key", help="the artifact key")
    inspect.add_argument("--limit", type=int, default=10, help="how many versions (default 10)")


def artifact_json(artifact: ArtifactRecord) -> dict[str, Any]:
    """An artifact for ``inspect``: its fields by their Prefect names, times in ISO 8601."""
    return {
        "id": artifact.id,
        "key": artifact.key,
        "type": artifact.type,
        "description": artifact.description,
        "data": artifact.data,
        "flow_run_id": artifact.flow_run_id,
        "task_run_id": artifact.task_run_id,
        "created": iso(artifact.created),
        "updated": iso(artifact.updated),
    }


def run_artifact_command(
    args: argparse.Namespace, store: Store | None, out: TextIO, err: TextIO
) -> int:
    """``store`` is None when nothing has run here yet: there are no artifacts."""
    if args.verb == "ls":
        found = [] if store is None else store.list_artifacts(limit=args.limit, latest=True)
        if not found:
            print("No artifacts found.", file=out)
            return 0
        rows = [
            [a.id, a.key or "", a.type, timestamp(a.updated), a.description or ""] for a in found
        ]
        headers = ["ID", "KEY", "TYPE", "UPDATED", "DESCRIPTION"]
        print(render(headers, rows, terminal_width(out), keep=1), file=out)
        return 0
    versions = [] if store is None else store.list_artifacts(key=args.key, limit=args.limit)
    if not versions:
        print(f"Error: No artifact with key {args.key!r}.", file=err)
        return 1
    print(json.dumps([artifact_json(a) for a in versions], indent=2), file=out)
    return 0
