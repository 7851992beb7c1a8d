"""``log_prints=True``: ``print`` inside a run becomes an INFO line of that run's log.

``builtins.print`` is replaced once, the first time a run asks for it (not around every
run, as Prefect's ``patch_print`` does: runs overlap on threads); the replacement,
``print_as_log``, checks the current run on every call and falls through to the real
``print`` when the run does not log prints, when there is no run, or when printing to a
file other than stdout and stderr.
"""

from __future__ import annotations

import builtins
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowless.context import _flow_run, _task_run

__all__ = ["install_print_logging", "patch_print", "print_as_log"]

_original_print = builtins.print


def print_as_log(*args: Any, **kwargs: Any) -> None:
    """Prefect's ``print_as_log``: in a run that logs prints, what ``print`` would write
    (``sep`` and ``end`` applied, trailing whitespace dropped) is logged at INFO."""
    file = kwargs.get("file")
    if file is None or file is sys.stdout or file is sys.stderr:
        ctx = _task_run.get() or _flow_run.get()
        if ctx is not None and ctx.log_prints:
            buffer = io.StringIO()
            _original_print(*args, **{**kwargs, "file": buffer})
            ctx.logger.info(buffer.getvalue().rstrip())
            return
    _original_print(*args, **kwargs)


def install_print_logging() -> None:
    if builtins.print is not print_as_log:
        builtins.print = print_as_log


@contextmanager
def patch_print() -> Iterator[None]:
    """``print`` is ``print_as_log`` inside the block, and what it was before after it."""
    before = builtins.print
    builtins.print = print_as_log
    try:
        yield
    finally:
        builtins.print = before
