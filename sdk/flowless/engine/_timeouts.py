"""Running a function with a time limit, from any thread.

Signals only work on the main thread, and tasks run on pool threads, so the function
runs on a worker thread while the caller waits. At the deadline the caller reports the
timeout at once. The worker is then stopped by raising an exception inside it
(``PyThreadState_SetAsyncExc``), which CPython delivers at the worker's next function
entry or loop iteration; code blocked in C (``time.sleep``, a socket read) stops when
that call returns.

The exception is only sent while the worker runs the user's own code: one landing
inside engine code could leave a store transaction or a lock half-done. When the user's
code calls back into the engine (a nested task or subflow call), the engine marks the
thread (``enter_engine``/``leave_engine``); if the deadline passes meanwhile, the worker
is marked expired and the engine raises the timeout itself at the safe point where that
call returns to the user's code, and refuses to start new engine work for it. Because
CPython delivers an async exception at the next function entry, one sent just as the
worker enters the engine fires at the engine call's first frame, before it does
anything.

A retry waits for the previous attempt's worker to stop (``join_abandoned``), so two
attempts of one run never execute at the same time.

The words are Prefect's (``prefect.utilities.timeout``, ``handle_timeout`` in its
engines): the exception says ``Scope timed out after 0.5 second(s).``; the run's
``TimedOut`` state says ``Task run exceeded timeout of 0.5 second(s)``, or, for any other
``TimeoutError`` the run's code raised, ``Task run failed due to timeout: TimeoutError(...)``.
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flowless._guard import (
    Guard,
    TimeLimitExceeded,
    enter_engine,
    install,
    leave_engine,
    new_guard,
)
from flowless.task_runners import is_worker_thread, mark_worker_thread

__all__ = [
    "TimeLimitExceeded",
    "call_with_timeout",
    "enter_engine",
    "join_abandoned",
    "leave_engine",
    "scope_timed_out",
    "timed_out_message",
]

T = TypeVar("T")
E = TypeVar("E", bound=TimeoutError)


def scope_timed_out(error: type[E], seconds: float | None) -> Callable[[], E]:
    """What ``call_with_timeout`` raises at the deadline: ``error`` with Prefect's words
    (``seconds`` printed as the run's float option, ``1.0`` for ``timeout_seconds=1``)."""
    return lambda: error(f"Scope timed out after {seconds} second(s).")


def timed_out_message(
    run: str, exc: TimeoutError, own: type[TimeoutError], seconds: float | None
) -> str:
    """The ``TimedOut`` state's message for a ``TimeoutError`` that ended an attempt of a
    ``run`` (``"Task run"``/``"Flow run"``). Prefect tells only the type apart, so a
    ``TaskRunTimeoutError`` raised by a nested task run reads as the outer run's own."""
    if isinstance(exc, own):
        return f"{run} exceeded timeout of {seconds} second(s)"
    return f"{run} failed due to timeout: {exc!r}"


def _expire(thread: threading.Thread, guard: Guard) -> None:
    guard.expired = True  # first, so a worker entering the engine now stops there
    if guard.depth == 0 and thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(TimeLimitExceeded)
        )


def join_abandoned(exc: BaseException) -> None:
    """Wait until the worker behind a timeout error has stopped (no-op for other errors)."""
    worker: threading.Thread | None = getattr(exc, "_flowless_worker", None)
    if worker is not None:
        worker.join()
        exc._flowless_worker = None  # type: ignore[attr-defined]


def call_with_timeout(
    fn: Callable[[], T], seconds: float, on_timeout: Callable[[], BaseException]
) -> T:
    """``fn()`` if it finishes within ``seconds``, else raise ``on_timeout()``."""
    outcome: dict[str, Any] = {}
    done = threading.Event()
    ctx = contextvars.copy_context()
    guard = new_guard()
    worker_slot = is_worker_thread()  # a pool thread's timed work may steal runs, as it would

    def target() -> None:
        install(guard)
        if worker_slot:
            mark_worker_thread()
        try:
            outcome["value"] = ctx.run(fn)
        except TimeLimitExceeded:
            pass
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="flowless-timeout", daemon=True)
    worker.start()
    if not done.wait(seconds):
        _expire(worker, guard)
        error = on_timeout()
        error._flowless_worker = worker  # type: ignore[attr-defined]
        raise error
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
