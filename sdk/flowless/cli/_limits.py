"""``flowless gcl ...`` and ``flowless concurrency-limit ...``, with Prefect's verbs and
messages. Task concurrency limits are the global limits named ``tag:<tag>``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from flowless.cli._table import render, timestamp
from flowless.concurrency._admin import (
    GlobalConcurrencyLimit,
    create_limit,
    delete_limit,
    list_limits,
    read_limit,
    reset_limit,
    update_limit,
)
from flowless.exceptions import RecordExistsError, RecordNotFoundError
from flowless.store import CorruptRecord, LimitStore
from flowless.store._limits import TAG_PREFIX

__all__ = ["add_parsers", "run_concurrency_limit", "run_gcl"]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gcl = commands.add_parser(
        "gcl", aliases=["global-concurrency-limit"], help="global concurrency and rate limits"
    )
    verbs = gcl.add_subparsers(dest="verb", metavar="VERB", required=True)
    create = verbs.add_parser("create", help="create a limit")
    create.add_argument("name")
    create.add_argument("--limit", "-l", type=int, required=True, help="slots at once")
    create.add_argument(
        "--slot-decay-per-second",
        type=float,
        default=0.0,
        help="for rate limits: slots freed per second",
    )
    create.add_argument("--disable", action="store_true", help="create it inactive")
    verbs.add_parser("ls", help="every limit, with the slots in use now")
    verbs.add_parser("inspect", help="a limit and its holders").add_argument("name")
    update = verbs.add_parser("update", help="change a limit")
    update.add_argument("name")
    update.add_argument("--limit", "-l", type=int)
    update.add_argument("--slot-decay-per-second", type=float)
    switch = update.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true")
    switch.add_argument("--disable", action="store_true")
    verbs.add_parser("delete", help="delete a limit").add_argument("name")
    verbs.add_parser("enable", help="activate a limit").add_argument("name")
    verbs.add_parser("disable", help="deactivate a limit (acquisitions skip it)").add_argument(
        "name"
    )

    tags = commands.add_parser("concurrency-limit", help="task concurrency limits by tag")
    tag_verbs = tags.add_subparsers(dest="verb", metavar="VERB", required=True)
    tag_create = tag_verbs.add_parser("create", help="limit running task runs with a tag")
    tag_create.add_argument("tag")
    tag_create.add_argument("concurrency_limit", type=int)
    tag_verbs.add_parser("ls", help="every tag limit, with its running task runs")
    for verb, text in (
        ("inspect", "a tag limit and the task runs holding it"),
        ("delete", "delete a tag limit"),
        ("reset", "give back every slot of a tag limit"),
    ):
        tag_verbs.add_parser(verb, help=text).add_argument("tag")


def _confirmed(question: str, out: TextIO) -> bool:
    """Ask at a terminal, as Prefect does (default no); scripts and pipes are not asked."""
    if not sys.stdin.isatty():
        return True
    print(f"{question} [y/N]: ", end="", file=out, flush=True)
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _slots(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _describe(limit: GlobalConcurrencyLimit, out: TextIO) -> None:
    now = time.time()
    print(f"name:                  {limit.name}", file=out)
    print(f"active:                {limit.active}", file=out)
    print(f"limit:                 {limit.limit}", file=out)
    print(f"active slots:          {_slots(limit.active_slots)}", file=out)
    print(f"slot decay per second: {limit.slot_decay_per_second:g}", file=out)
    print(f"created:               {timestamp(limit.created)}", file=out)
    print(f"updated:               {timestamp(limit.updated)}", file=out)
    if limit.leases:
        rows = [[x.holder or "-", str(x.slots), f"{x.expires - now:.0f}s"] for x in limit.leases]
        print("\n" + render(["HELD BY", "SLOTS", "LEASE EXPIRES IN"], rows), file=out)


def run_gcl(args: argparse.Namespace, limits: LimitStore, out: TextIO, err: TextIO) -> int:
    name: str = args.name if hasattr(args, "name") else ""
    try:
        if args.verb == "create":
            try:
                create_limit(
                    name,
                    args.limit,
                    args.slot_decay_per_second,
                    active=not args.disable,
                    limits=limits,
                )
            except RecordExistsError:
                print(
                    f"Global concurrency limit {name!r} already exists. Please try creating "
                    "with a different name.",
                    file=err,
                )
                return 1
            print(
                f"Created global concurrency limit with name {name!r}. Run `flowless gcl "
                f"inspect {name}` to view details.",
                file=out,
            )
        elif args.verb == "ls":
            found = list_limits(limits=limits)
            if not found:
                print("No global concurrency limits found.", file=out)
                return 0
            rows = [
                [x.key, "<corrupt>", "-", "-", "-", x.reason[:60]]
                if isinstance(x, CorruptRecord)
                else [
                    x.name,
                    str(x.active),
                    str(x.limit),
                    _slots(x.active_slots),
                    f"{x.slot_decay_per_second:g}",
                    timestamp(x.updated),
                ]
                for x in found
            ]
            headers = [
                "NAME",
                "ACTIVE",
                "LIMIT",
                "ACTIVE SLOTS",
                "SLOT DECAY PER SECOND",
                "UPDATED",
            ]
            print(render(headers, rows), file=out)
        elif args.verb == "inspect":
            _describe(read_limit(name, limits=limits), out)
        elif args.verb in ("update", "enable", "disable"):
            active = None
            if args.verb == "enable" or getattr(args, "enable", False):
                active = True
            elif args.verb == "disable" or getattr(args, "disable", False):
                active = False
            if (
                args.verb == "update"
                and active is None
                and args.limit is None
                and (args.slot_decay_per_second is None)
            ):
                print(
                    "Nothing to update: give --limit, --slot-decay-per-second, --enable or "
                    "--disable.",
                    file=err,
                )
                return 1
            if args.verb != "update" and read_limit(name, limits=limits).active == active:
                print(f"Global concurrency limit {name!r} is already {args.verb}d.", file=err)
                return 1
            update_limit(
                name,
                limit=getattr(args, "limit", None),
                slot_decay_per_second=getattr(args, "slot_decay_per_second", None),
                active=active,
                limits=limits,
            )
            verb = {"enable": "Enabled", "disable": "Disabled"}.get(args.verb, "Updated")
            print(f"{verb} global concurrency limit with name {name!r}.", file=out)
        elif args.verb == "delete":
            read_limit(name, limits=limits)  # not found: say so before asking
            question = (
                f"Are you sure you want to delete global concurrency limit with name {name!r}?"
            )
            if not _confirmed(question, out):
                print("Deletion aborted.", file=out)
                return 1
            delete_limit(name, limits=limits)
            print(f"Deleted global concurrency limit with name {name!r}.", file=out)
    except RecordNotFoundError:
        print(f"Global concurrency limit {name!r} not found.", file=err)
        return 1
    return 0


def run_concurrency_limit(
    args: argparse.Namespace, limits: LimitStore, out: TextIO, err: TextIO
) -> int:
    tag: str = args.tag if hasattr(args, "tag") else ""
    name = f"{TAG_PREFIX}{tag}"
    try:
        if args.verb == "create":
            try:
                create_limit(name, args.concurrency_limit, limits=limits)
            except RecordExistsError:
                update_limit(name, limit=args.concurrency_limit, limits=limits)  # as Prefect
            print(
                f"Created concurrency limit with properties:\n    tag - {tag!r}\n"
                f"    concurrency_limit - {args.concurrency_limit}\n\n"
                f"Delete the concurrency limit:\n    flowless concurrency-limit delete {tag}\n\n"
                f"Inspect the concurrency limit:\n    flowless concurrency-limit inspect {tag}",
                file=out,
            )
        elif args.verb == "ls":
            found = [
                x
                for x in list_limits(limits=limits)
                if isinstance(x, GlobalConcurrencyLimit) and x.tag is not None
            ]
            if not found:
                print("No concurrency limits found.", file=out)
                return 0
            rows = [[x.tag or "", str(x.limit), str(len(x.leases))] for x in found]
            print(render(["TAG", "CONCURRENCY LIMIT", "ACTIVE TASK RUNS"], rows), file=out)
        elif args.verb == "inspect":
            _describe(read_limit(name, limits=limits), out)
        elif args.verb == "delete":
            read_limit(name, limits=limits)
            question = f"Are you sure you want to delete concurrency limit with tag {tag!r}?"
            if not _confirmed(question, out):
                print("Deletion aborted.", file=out)
                return 1
            delete_limit(name, limits=limits)
            print(f"Deleted concurrency limit set on the tag: {tag}", file=out)
        elif args.verb == "reset":
            reset_limit(name, limits=limits)
            print(f"Reset concurrency limit set on the tag: {tag}", file=out)
    except RecordNotFoundError:
        print(f"No concurrency limit found for the tag: {tag}", file=err)
        return 1
    return 0
