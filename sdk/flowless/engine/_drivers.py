"""One engine, two drivers: running attempts from synchronous or asynchronous code.

The logic of a run's attempts (retries, their conditions and delays, the messages, the
final state) is written once, as a generator that *asks* for things: it yields ``None``
to have the run's function called once (the driver sends back the value, or throws the
exception in), and a number of seconds to have the driver wait before the next attempt.
It returns the final state.

The synchronous driver calls the function on the current thread and sleeps; the async
driver awaits the function's coroutine on the caller's event loop (so loop-bound objects
such as ``asyncio.Semaphore`` or an async HTTP client work in tasks) and ``await``s the
delay. Neither knows anything about retries or states: there is no second engine.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from flowless.states import State

__all__ = ["Attempts", "await_with_timeout", "drive", "drive_async", "sleep"]

#: ``yield None``: call the function once; ``yield seconds``: wait; ``return``: the state.
Attempts = Generator[float | None, Any, State[Any]]

#: How the synchronous driver waits between attempts (a seam for tests, not a setting).
sleep = time.sleep


def drive(attempts: Attempts, call_once: Callable[[], Any]) -> State[Any]:
    step = next(attempts)
    while True:
        try:
            if step is None:
                try:
                    value = call_once()
                except Exception as exc:
                    step = attempts.throw(exc)
                else:
                    step = attempts.send(value)
            else:
                sleep(step)
                step = attempts.send(None)
        except StopIteration as done:
            final: State[Any] = done.value
            return final


async def drive_async(attempts: Attempts, call_once: Callable[[], Awaitable[Any]]) -> State[Any]:
    import asyncio

    step = next(attempts)
    while True:
        try:
            if step is None:
                try:
                    value = await call_once()
                except Exception as exc:
                    step = attempts.throw(exc)
                else:
                    step = attempts.send(value)
            else:
                await asyncio.sleep(step)
                step = attempts.send(None)
        except StopIteration as done:
            final: State[Any] = done.value
            return final


async def await_with_timeout(
    awaitable: Awaitable[Any], seconds: float | None, on_timeout: Callable[[], BaseException]
) -> Any:
    """``await awaitable``, cancelled after ``seconds``: the caller resumes only once the
    cancellation has finished, so a retry never overlaps the attempt it replaces."""
    import asyncio

    if seconds is None:
        return await awaitable
    job = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({job}, timeout=seconds)
    except asyncio.CancelledError:  # the caller itself was cancelled: so is the run,
        job.cancel()  # and the caller goes on only once the run's cleanup has finished
        await asyncio.wait({job})
        raise
    if not done:
        job.cancel()
        await asyncio.wait({job})
        raise on_timeout()
    return job.result()
