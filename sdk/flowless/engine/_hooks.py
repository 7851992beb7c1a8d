"""State hooks (``on_completion``, ``on_failure``, ...): called when a run reaches its final
state, before the ``Finished in state`` line (Prefect's order), and never allowed to
change it: a failing hook is logged. ``async def`` hooks are awaited."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from logging import ERROR, INFO
from typing import Any, TypeVar

from flowless.logging._console import RunLoggerAdapter

T = TypeVar("T")

__all__ = ["run_awaitable", "run_hooks"]


def run_awaitable(awaitable: Awaitable[T]) -> T:
    """Drive an awaitable to completion from synchronous code (an ``async def`` hook):
    on a fresh event loop, in a helper thread if this thread already runs a loop."""
    import asyncio

    async def wrapper() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrapper())
    with ThreadPoolExecutor(1, thread_name_prefix="flowless-hook") as helper:
        return helper.submit(asyncio.run, wrapper()).result()


def run_hooks(
    hooks: Iterable[Callable[..., Any]],
    owner: Any,
    run: Any,
    state: Any,
    logger: RunLoggerAdapter,
) -> None:
    for hook in hooks:
        name = getattr(hook, "__name__", repr(hook))
        logger.emit(INFO, "Running hook %r in response to entering state %r", name, state.name)
        try:
            result = hook(owner, run, state)
            if inspect.isawaitable(result):
                run_awaitable(result)
        except Exception as exc:
            logger.emit(ERROR, "An error was encountered while running hook %r", name, exc=exc)
        else:
            logger.emit(INFO, "Hook %r finished running successfully", name)
