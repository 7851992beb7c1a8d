"""The console handler writes each line once to whatever ``sys.stderr`` is, flushing it
only where the write did not; a line's stamp is the one ``flowless flow-run logs`` shows."""

from __future__ import annotations

import io
import logging
import sys
import time

import pytest

from flowless.cli._flow_run_logs import _line
from flowless.logging._console import (
    ConsoleFormatter,
    ConsoleHandler,
    RunLoggerAdapter,
    _EngineRecord,
)
from flowless.logging._stored import log_line


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("flowless.task_runs", logging.INFO, "-", 0, message, (), None)
    record.task_run_name = "fetch-1a2"
    return record


def _handler() -> ConsoleHandler:
    handler = ConsoleHandler()
    handler.setFormatter(ConsoleFormatter())
    return handler


class _WriteOnly:
    """A stand-in for stderr with no ``flush`` (some IDEs and GUIs give one)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


class _Counting:
    def __init__(self, line_buffering: bool) -> None:
        self.text = io.StringIO()
        self.line_buffering = line_buffering
        self.flushes = 0

    def write(self, text: str) -> int:
        return self.text.write(text)

    def flush(self) -> None:
        self.flushes += 1


def test_a_stderr_without_flush_gets_its_lines_and_no_logging_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = _WriteOnly()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(logging, "raiseExceptions", True)
    handler = _handler()
    handler.handle(_record("one"))
    handler.handle(_record("two"))
    lines = stream.text.splitlines()
    assert [line.split(" | ", 2)[2] for line in lines] == [
        "Task run 'fetch-1a2' - one",
        "Task run 'fetch-1a2' - two",
    ]  # (a "--- Logging error ---" would have been written here too)


@pytest.mark.parametrize(("line_buffering", "flushes"), [(False, 2), (True, 0)])
def test_flushed_only_where_the_newline_did_not(
    monkeypatch: pytest.MonkeyPatch, line_buffering: bool, flushes: int
) -> None:
    stream = _Counting(line_buffering)
    monkeypatch.setattr(sys, "stderr", stream)
    handler = _handler()
    handler.handle(_record("one"))
    handler.handle(_record("two"))
    assert stream.text.getvalue().count("\n") == 2
    assert stream.flushes == flushes


# Times a millisecond apart or just past one: worked out from the nanoseconds (the engine's
# records, Python 3.13's) or from the float (3.11's ``LogRecord``), some land on different
# milliseconds: ...107.002000000 ns is .001999... as a float, and 3.11 makes .000 of .001.
_NEAR_A_MILLISECOND = [1764680107_001_000_000, 1764680107_002_000_000, 1764680107_005_000_001]


@pytest.mark.parametrize("ns", _NEAR_A_MILLISECOND)
def test_the_console_and_flow_run_logs_show_one_stamp(
    monkeypatch: pytest.MonkeyPatch, ns: int
) -> None:
    monkeypatch.setattr(time, "time_ns", lambda: ns)
    engine = _EngineRecord("flowless.task_runs", logging.INFO, "%s", ("done",), None, {})
    plain = _record("done")
    plain.created = ns / 1e9
    plain.msecs = int((plain.created - int(plain.created)) * 1000)  # as Python 3.11 does
    for record in (engine, plain):
        record.task_run_id, record.task_run_name = "t-1", "fetch-1a2"
        kept = _line(log_line(record, "run-1"))
        shown = ConsoleFormatter().format(record)
        assert shown == kept
        assert shown.startswith(time.strftime("%H:%M:%S", time.localtime(ns // 10**9)))


def test_filters_and_a_disabled_logger_still_apply_to_the_engine_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine's lines skip ``Logger.handle``'s and ``Handler.handle``'s filter calls
    only where no filter is set."""
    stream = _WriteOnly()
    monkeypatch.setattr(sys, "stderr", stream)
    logger = logging.getLogger("flowless.test_console_filters")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = _handler()
    logger.addHandler(handler)
    adapter = RunLoggerAdapter(logger, {"task_run_name": "fetch-1a2"})
    try:
        adapter.emit(logging.INFO, "kept %d", 1)
        handler.addFilter(lambda record: "secret" not in record.getMessage())
        adapter.emit(logging.INFO, "a secret")
        logger.addFilter(lambda record: record.levelno >= logging.WARNING)
        adapter.emit(logging.INFO, "below the logger's filter")
        adapter.emit(logging.WARNING, "kept %d", 2)
        logger.disabled = True
        adapter.emit(logging.ERROR, "from a disabled logger")
    finally:
        logger.handlers.clear()
    assert [line.split(" - ", 1)[1] for line in stream.text.splitlines()] == ["kept 1", "kept 2"]
