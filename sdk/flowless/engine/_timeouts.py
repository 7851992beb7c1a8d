"""Running a function with a time limit, from any thread.

Signals only work on the main thread, and tasks run on pool threads, so the function
runs on a helper thread while the caller waits. At the deadline the caller reports the
timeout at once, and the helper thread is asked to stop by raising an exception inside
it at its next Python instruction (code blocked in C, such as ``time.sleep``, stops when
that call returns). On AWS the Lambda timeout is the hard stop behind this one.
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["TimeLimitExceeded", "call_with_timeout"]

T = TypeVar("T")


class TimeLimitExceeded(BaseException):
    """Raised inside an abandoned thread; a BaseException so ``except Exception`` in user
    code does not swallow it."""


def _interrupt(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(TimeLimitExceeded)
        )


def call_with_timeout(
    fn: Callable[[], T], seconds: float, on_timeout: Callable[[], BaseException]
) -> T:
    """``fn()`` if it finishes within ``seconds``, else raise ``on_timeout()``."""
    outcome: dict[str, Any] = {}
    done = threading.Event()
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = ctx.run(fn)
        except TimeLimitExceeded:
            pass
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="flowless-timeout", daemon=True)
    thread.start()
    if not done.wait(seconds):
        _interrupt(thread)
        raise on_timeout()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
