"""The console handler writes each line once to whatever ``sys.stderr`` is, flushing it
only where the write did not."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from flowless.logging._console import ConsoleFormatter, ConsoleHandler


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
