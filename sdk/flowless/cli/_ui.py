"""``flowless ui`` (the run UI on 127.0.0.1) and ``flowless flow-run report`` (one run's
page as a self-contained HTML file), over the store the settings point at.

Both need the ``ui`` extra; without it they say how to get it instead of failing on an
import deep inside.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from flowless.exceptions import ConfigurationError
from flowless.settings import Settings

__all__ = ["add_ui_parser", "add_report_parser", "report_command", "ui_command"]

DEFAULT_PORT = 4200


def add_ui_parser(commands: Any) -> None:
    ui = commands.add_parser(
        "ui", help="serve a read-only web UI of the runs on 127.0.0.1 (until Ctrl-C)"
    )
    ui.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: only this machine; the UI has no login)",
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0: any free)")
    return port


def add_report_parser(verbs: Any, ref_help: str) -> None:
    report = verbs.add_parser(
        "report", help="a run's page as one self-contained HTML file, to attach to a ticket"
    )
    report.add_argument("id", help=ref_help)
    report.add_argument(
        "-o", "--output", required=True, help="the HTML file to write ('-' for stdout)"
    )


def _need_extra() -> None:
    try:
        import jinja2  # noqa: F401
        import markdown_it  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"The run UI and reports need the 'ui' extra ({exc.name} is not installed): "
            "pip install 'flowless[ui]'"
        ) from None


def report_command(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    _need_extra()
    from flowless.cli._stores import open_run_store
    from flowless.ui import report_html

    opened = open_run_store(settings)
    if opened is None:
        print(
            f"Error: No flow run with id, id prefix or name {args.id!r} "
            f"(nothing has run with FLOWLESS_HOME={settings.home} yet).",
            file=sys.stderr,
        )
        return 1
    store, results = opened
    try:
        html = report_html(store, results, args.id)
    finally:
        store.close()
    # A lone surrogate in what a run stored cannot be UTF-8: written as its escape.
    data = html.encode("utf-8", "backslashreplace")
    if args.output == "-":
        out.write(data.decode("utf-8"))
        return 0
    target = Path(args.output)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(target)  # a reader never sees half a report
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot write the report to {target}: {exc.strerror or exc}"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    print(f"Wrote {target} ({len(data):,} bytes)", file=out)
    return 0


def ui_command(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    _need_extra()
    from flowless.cli._stores import open_run_store
    from flowless.ui import Pages, make_server
    from flowless.ui._server import is_loopback

    def reopen() -> Any:
        return open_run_store(settings)

    # Only the embedded store can be missing (nothing has run yet): the UI waits for it.
    pages = Pages(open_run_store(settings), reopen, str(settings.home / "flowless.db"))
    try:
        server = make_server(pages, args.host, args.port)
    except OSError as exc:
        pages.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"Port {args.port} on {args.host} is in use (another flowless ui?): "
                "choose another with --port."
            ) from None
        raise ConfigurationError(f"Cannot listen on {args.host}:{args.port}: {exc}") from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"flowless UI for {pages.location} at http://{host}:{port}/ (Ctrl-C to stop)", file=out)
    if not is_loopback(host):
        print(
            f"Warning: listening on {host}, not only this machine: the UI has no login, and "
            "anyone who can reach the port can read every run in the store.",
            file=out,
        )
    out.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        pages.close()
    return 0
