"""Marking the stretches of a timed worker thread that must not be interrupted.

A timed task or flow runs on a worker thread that is stopped at its deadline by an
asynchronous exception (see ``engine._timeouts``). That exception must never land in
flowless's own machinery (store transactions, future bookkeeping, the event loop of an
async task): every entry point from user code into flowless marks the thread busy with
``enter_engine``/``leave_engine``. Threads without a time limit pay one thread-local
lookup. This module sits below everything so that ``futures`` can use it too.
"""

from __future__ import annotations

import threading

__all__ = [
    "Guard",
    "TimeLimitExceeded",
    "current_guard",
    "enter_engine",
    "install",
    "leave_engine",
    "new_guard",
]


class TimeLimitExceeded(BaseException):
    """Raised inside an abandoned worker; a BaseException so ``except Exception`` in user
    code does not swallow it."""


class Guard:
    """Marks a timed worker thread: ``depth`` > 0 while it is inside engine code,
    ``expired`` once its deadline has passed."""

    __slots__ = ("depth", "expired")

    def __init__(self) -> None:
        self.depth = 0
        self.expired = False


_local = threading.local()


def enter_engine() -> Guard | None:
    """Called when user code enters the engine; a no-op on threads without a time limit."""
    guard: Guard | None = getattr(_local, "guard", None)
    if guard is not None:
        if guard.expired and guard.depth == 0:
            raise TimeLimitExceeded
        guard.depth += 1
    return guard


def leave_engine(guard: Guard | None) -> None:
    """Called when the engine returns to user code: the safe point to stop an expired
    worker (its nested call has finished and been recorded)."""
    if guard is not None:
        guard.depth -= 1
        if guard.expired and guard.depth == 0:
            raise TimeLimitExceeded


def new_guard() -> Guard:
    """A guard for a new timed worker; the worker installs it with ``install``."""
    return Guard()


def install(guard: Guard) -> None:
    _local.guard = guard


def current_guard() -> Guard | None:
    guard: Guard | None = getattr(_local, "guard", None)
    return guard
