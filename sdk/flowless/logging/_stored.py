"""Every run log line kept with its run: the engine's lines, ``get_run_logger()`` calls
and ``log_prints`` output, with level, time, flow run and task run
(``flowless flow-run logs``, the run UI).

One handler on the two run loggers (``flowless.flow_runs``, ``flowless.task_runs``)
hands each line to the store of the flow run it belongs to: the engine names it when it
enters a flow run (``remember``: its first and last lines are logged outside the run's
context), or the calling context sets one (``keep_lines_in``: a remote task run on
Lambda has no flow run in its process). It sits beside whatever prints the lines, so it
works the same whether the console handler or the Lambda handlers' JSON logging shows
them.

A line is cut at ``MAX_MESSAGE`` characters (a traceback of a deep recursion can be
megabytes), with a marker that says how much was cut. A store that cannot take a line
never breaks the code that logged it: the failure is reported once, on
``flowless.store``.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from flowless.logging._console import user_traceback
from flowless.store._records import LogLine

if TYPE_CHECKING:
    from flowless.store import Store

__all__ = ["MAX_MESSAGE", "StoredLogHandler", "install", "keep_lines_in", "log_line", "remember"]

#: The longest message kept, in characters.
MAX_MESSAGE = 32 * 1024
#: Set on records that were kept already (a remote task run's lines, shown again on the
#: flow's console): they are not kept twice.
KEPT = "flowless_kept"

_sink: ContextVar[Store | None] = ContextVar("flowless_log_sink", default=None)
_collected: ContextVar[list[LogLine] | None] = ContextVar("flowless_log_lines", default=None)
#: The store of each flow run entered in this process (the latest ``_REMEMBERED``).
_stores: dict[str, Store] = {}
_REMEMBERED = 1024
_counter = itertools.count()
_pid_part = f"-{os.getpid():08x}-"  # of every line id made in this process
_store_log = logging.getLogger("flowless.store")


def _after_fork_in_child() -> None:
    """A forked child never writes to its copies of the parent's stores (their committer
    threads did not come along, and their locks may have been copied held)."""
    global _pid_part
    _pid_part = f"-{os.getpid():08x}-"
    _stores.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def remember(flow_run_id: str, store: Store) -> None:
    """Keep flow run ``flow_run_id``'s lines, and its task runs', in ``store``."""
    _stores[flow_run_id] = store
    if len(_stores) > _REMEMBERED:
        for old in list(_stores)[: len(_stores) - _REMEMBERED]:
            _stores.pop(old, None)


@contextmanager
def keep_lines_in(store: Store | None) -> Iterator[list[LogLine]]:
    """Collect the run lines logged in this context in the list it yields (a remote task
    run's, for its answer), and keep them in ``store`` if one is given."""
    lines: list[LogLine] = []
    token, collecting = _sink.set(store), _collected.set(lines)
    try:
        yield lines
    finally:
        _collected.reset(collecting)
        _sink.reset(token)


def log_line(record: logging.LogRecord, flow_run_id: str) -> LogLine:
    attrs = record.__dict__
    task_run_id = attrs.get("task_run_id")
    if task_run_id == "<unknown>":
        task_run_id = None
    name = attrs.get("task_run_name") if task_run_id else attrs.get("flow_run_name")
    # formatted once: the console formatter takes it from here (``record.message``)
    message = record.message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        lines = traceback.format_exception(type(exc), exc, user_traceback(exc.__traceback__))
        message = f"{message}\n{''.join(lines).rstrip()}"
    if len(message) > MAX_MESSAGE:
        cut = len(message) - MAX_MESSAGE
        message = f"{message[:MAX_MESSAGE]}\n... [{cut} more characters cut]"
    created = record.created
    return _new_line(  # LogLine(...) without the Python frame of its __new__
        LogLine,
        (
            f"{int(created * 1e9):020d}{_pid_part}{next(_counter):012x}",
            flow_run_id if type(flow_run_id) is str else str(flow_run_id),
            str(task_run_id) if task_run_id else None,
            str(name or "<unknown>"),
            created,
            record.levelno,
            record.name,
            message,
        ),
    )


_new_line = tuple.__new__


class StoredLogHandler(logging.Handler):
    """Hands each run line to its flow run's store (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._failed_at = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def handle(self, record: logging.LogRecord) -> bool:
        # no handler lock, no filters, no call to emit: the store is thread-safe, and
        # this runs per line
        attrs = record.__dict__
        flow_run_id = attrs.get("flow_run_id")
        if not flow_run_id or flow_run_id == "<unknown>" or attrs.get(KEPT):
            return True
        collected = _collected.get()
        # a remote task run's lines go into its answer (and its store, if it names one)
        store = _sink.get() if collected is not None else _stores.get(flow_run_id)
        if store is None and collected is None:
            return True
        try:
            line = log_line(record, flow_run_id)
            if collected is not None:
                collected.append(line)
            if store is not None:
                store.write_log(line)
        except Exception as exc:  # the code that logged goes on; say so, once a minute
            now = time.monotonic()
            if now - self._failed_at > 60:
                self._failed_at = now
                _store_log.warning("A run log line could not be kept: %s", exc)
        return True


_handler = StoredLogHandler()


def install() -> None:
    """Attach the handler to both run loggers (once)."""
    for name in ("flowless.flow_runs", "flowless.task_runs"):
        logger = logging.getLogger(name)
        if _handler not in logger.handlers:
            logger.addHandler(_handler)
