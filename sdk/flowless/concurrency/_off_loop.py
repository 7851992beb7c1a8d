"""Awaiting a blocking call (a wait for concurrency slots) without blocking the event loop.

Each call gets a daemon thread of its own rather than a seat in the loop's default
executor (``asyncio.to_thread``). That executor is small (``cpu_count + 4`` threads): if
every seat held a coroutine waiting for a slot, the holder could never get one to give
its slot back, and all of them would wait forever. A thread per wait cannot run out
while any waiter still waits; a wait is long next to the cost of starting a thread. Being
daemons, waiters that are still waiting do not keep the process alive at exit.

A thread cannot be stopped. When the awaiting coroutine is cancelled (a timeout, a
``TaskGroup`` that failed), what the call took is handed to ``undo`` as soon as the call
returns, so slots taken for a waiter that left are given back at once instead of being
held, or a lease renewed, for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["off_loop"]

T = TypeVar("T")

_logger = logging.getLogger("flowless.concurrency")


class _Handoff(Generic[T]):
    """Who owns the call's result: the waiting coroutine, or ``undo`` once it has left."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[T],
        ctx: contextvars.Context,
        undo: Callable[[T], object] | None,
    ) -> None:
        self.loop = loop
        self.future = future
        self.ctx = ctx
        self.undo = undo
        self.lock = threading.Lock()
        self.abandoned = False

    def run(self, fn: Callable[[], T]) -> None:
        """The thread: call ``fn`` in the caller's context, then deliver it or undo it."""
        try:
            result = self.ctx.run(fn)
        except BaseException as exc:  # the waiter re-raises it
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it
                self.loop.call_soon_threadsafe(self._fail, exc)
            return
        with self.lock:
            abandoned = self.abandoned
        if not abandoned:
            try:
                self.loop.call_soon_threadsafe(self._deliver, result)
                return
            except RuntimeError:  # the loop is closed: nobody waits for the result
                pass
        self._undo(result)

    def _undo(self, result: T) -> None:
        if self.undo is None:
            return
        try:
            self.ctx.copy().run(self.undo, result)
        except Exception as exc:
            _logger.warning("Could not give back what a cancelled wait took: %r", exc)

    def _undo_in_thread(self, result: T) -> None:
        threading.Thread(
            target=self._undo, args=(result,), name="flowless-undo", daemon=True
        ).start()

    def _deliver(self, result: T) -> None:
        if self.future.cancelled():
            self._undo_in_thread(result)
        else:
            self.future.set_result(result)

    def _fail(self, exc: BaseException) -> None:
        if not self.future.cancelled():
            self.future.set_exception(exc)

    def leave(self) -> None:
        """The waiter was cancelled: whatever the call took or will take is given back."""
        with self.lock:
            self.abandoned = True
        future = self.future
        if future.done() and not future.cancelled() and future.exception() is None:
            # Delivered, but the waiter was cancelled before it resumed to take it.
            self._undo_in_thread(future.result())


async def off_loop(fn: Callable[[], T], undo: Callable[[T], object] | None = None) -> T:
    """``fn()`` on a thread of its own, awaited; ``undo(result)`` if the waiter is
    cancelled before it gets the result. The thread runs in a copy of the caller's
    context, so it sees the current flow run and task run."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    handoff = _Handoff(loop, future, contextvars.copy_context(), undo)
    threading.Thread(
        target=handoff.run, args=(fn,), name="flowless-concurrency-wait", daemon=True
    ).start()
    try:
        return await future
    except asyncio.CancelledError:
        handoff.leave()
        raise
