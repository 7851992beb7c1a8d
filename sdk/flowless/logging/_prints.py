"""``log_prints=True``: ``print`` inside a run becomes an INFO line of that run's log.

``builtins.print`` is replaced once, the first time a run asks for it; the replacement
checks the current run on every call and falls through to the real ``print`` when the
run does not log prints, when there is no run, or when printing to another file.
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

from flowless.context import _flow_run, _task_run

__all__ = ["install_print_logging"]

_original_print = builtins.print


def _print(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    if file is None or file is sys.stdout:
        ctx = _task_run.get() or _flow_run.get()
        if ctx is not None and ctx.log_prints:
            ctx.logger.info((" " if sep is None else sep).join(map(str, args)))
            return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


def install_print_logging() -> None:
    if builtins.print is not _print:
        builtins.print = _print
