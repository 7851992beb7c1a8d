"""Console output in Prefect's format.

``09:08:12.322 | INFO    | Task run 'fetch_stats-0c9' - Finished in state Completed()``

Run loggers are ``LoggerAdapter``s carrying the run's name in ``extra``; one formatter
turns that into the ``Flow run '...'`` / ``Task run '...'`` prefix. The handler looks up
``sys.stderr`` at each write, so redirection (pytest's capture, a CLI) is honoured.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping, MutableMapping
from types import TracebackType
from typing import Any

__all__ = [
    "ConsoleFormatter",
    "ConsoleHandler",
    "RunLoggerAdapter",
    "setup_console_logging",
    "stamp",
    "user_traceback",
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ROOT = "flowless"
_ENGINE_SOURCE = "flowless-engine"


class RunLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """Adds the run's identity to every record, keeping any ``extra`` the caller passes."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = kwargs.get("extra")
        base = self.extra or {}
        kwargs["extra"] = {**base, **extra} if extra else base
        return msg, kwargs

    def replay(self, level: int, created: float, message: str, **extra: Any) -> None:
        """A line logged elsewhere (a remote task run), shown with its own time."""
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        record = _EngineRecord(logger.name, level, "%s", (message,), None, self.extra or {})
        record.created = created
        record.msecs = int(created * 1000) % 1000
        record.__dict__.update(extra)
        logger.handle(record)

    def emit(self, level: int, msg: str, *args: Any, exc: BaseException | None = None) -> None:
        """The engine's own lines (one per task run at least): a complete ``LogRecord``
        built without the stack walk and path parsing of ``Logger.makeRecord``."""
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        record = _EngineRecord(logger.name, level, msg, args, exc, self.extra or {})
        if logger.filters or logger.disabled:
            logger.handle(record)
        else:  # what ``handle`` does then, without its filter call
            logger.callHandlers(record)


_pid = os.getpid()


def _refresh_pid() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


#: The attributes every engine record has the same value of (set in one update).
_CONSTANT: dict[str, Any] = {
    "pathname": _ENGINE_SOURCE,
    "filename": _ENGINE_SOURCE,
    "module": "flowless",
    "exc_text": None,
    "stack_info": None,
    "lineno": 0,
    "processName": "MainProcess",
    "taskName": None,
}


class _EngineRecord(logging.LogRecord):
    """Every standard ``LogRecord`` attribute, so any handler or formatter works, set
    directly: the engine's records need no caller lookup or source-path parsing."""

    def __init__(
        self,
        name: str,
        level: int,
        msg: str,
        args: tuple[Any, ...],
        exc: BaseException | None,
        extra: Mapping[str, object],
    ) -> None:
        now = time.time_ns()
        attrs = self.__dict__
        attrs.update(_CONSTANT)
        self.name = name
        self.msg = msg
        self.args = args
        self.levelname = logging.getLevelName(level)
        self.levelno = level
        self.exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
        # No caller lookup; the logger's name stands in, so formats that show a location
        # (Powertools' ``location`` is ``funcName:lineno``) say "flowless.task_runs:0".
        self.funcName = name
        self.created = now / 1e9
        self.msecs = (now % 1_000_000_000) // 1_000_000
        self.relativeCreated = (now - logging._startTime) / 1e6  # type: ignore[attr-defined]
        thread = threading.current_thread()
        self.thread = thread.ident
        self.threadName = thread.name
        self.process = _pid
        attrs.update(extra)


def user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """Drop the engine's own frames from the top of a traceback: users debug their code."""
    first = tb
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return tb or first


_clock: tuple[int, str] = (-1, "")


def stamp(created: float) -> str:
    """``HH:MM:SS.mmm`` in local time. The console and ``flowless flow-run logs`` (from the
    kept float) both use it, so a line shows one stamp: ``record.msecs`` is worked out
    from the nanoseconds or from the float differently per Python version and can be a
    millisecond off. ``HH:MM:SS`` is computed once per second rather than per line."""
    global _clock
    second, millis = divmod(int(created * 1000), 1000)
    clock = _clock
    if clock[0] != second:
        t = time.localtime(second)
        clock = _clock = (second, f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")
    return f"{clock[1]}.{millis:03d}"


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        attrs = record.__dict__
        task_run_name = attrs.get("task_run_name")
        if task_run_name:
            who = f"Task run {task_run_name!r}"
        else:
            flow_run_name = attrs.get("flow_run_name")
            who = f"Flow run {flow_run_name!r}" if flow_run_name else record.name
        # the message as the run-log handler formatted it, if it did (once per line)
        message = attrs["message"] if "message" in attrs else record.getMessage()
        line = f"{stamp(record.created)} | {record.levelname:<7} | {who} - {message}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            lines = traceback.format_exception(type(exc), exc, user_traceback(exc.__traceback__))
            line = f"{line}\n{''.join(lines).rstrip()}"
        return line


class ConsoleHandler(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is at the time of the write."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def handle(self, record: logging.LogRecord) -> bool:
        """``Handler.handle`` with the lock taken directly (a line per task run)."""
        if self.filters:
            kept: Any = self.filter(record)
            if not kept:
                return False
            if isinstance(kept, logging.LogRecord):  # a filter may replace it (3.12+)
                record = kept
        with self.lock:  # type: ignore[union-attr]  # (made by Handler.__init__)
            self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """``StreamHandler.emit`` without its flush where the write flushed already:
        ``sys.stderr`` is line-buffered, so the newline did (one line per task run: the
        flush, with its lock, was a tenth of the line's cost)."""
        try:
            stream = sys.stderr
            stream.write(f"{self.format(record)}\n")
            if not getattr(stream, "line_buffering", False):
                flush = getattr(stream, "flush", None)  # a stand-in may have none
                if flush is not None:
                    flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def setup_console_logging(level: str) -> logging.Logger:
    """Attach the console handler to the ``flowless`` logger, unless someone configured
    that logger already (the Lambda handlers log JSON through powertools); apply the level."""
    logger = logging.getLogger(_ROOT)
    if not logger.handlers:
        handler = ConsoleHandler()
        handler.setFormatter(ConsoleFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    numeric = logging.getLevelName(level)
    if isinstance(numeric, int) and logger.level != numeric:
        logger.setLevel(numeric)
    return logger
