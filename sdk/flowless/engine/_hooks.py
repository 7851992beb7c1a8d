"""State hooks (``on_completion``, ``on_failure``, ``on_running``, ...), run as Prefect runs
them: a final-state hook before the ``Finished in state`` line, a flow's ``on_running``
hook each time its run enters Running (before the ``Beginning flow run`` line). A hook
never changes the run's state: one that fails is logged. ``async def`` hooks are awaited.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from logging import ERROR, INFO
from typing import TYPE_CHECKING, Any, TypeVar

from flowless.logging._console import RunLoggerAdapter
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.flows import Flow
    from flowless.store import FlowRunRecord

T = TypeVar("T")

__all__ = ["hook_name", "run_awaitable", "run_hooks", "run_on_running"]


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


def hook_name(hook: Callable[..., Any]) -> str:
    """The name the log lines give a hook, Prefect's way: its ``__name__`` (``<lambda>``
    for a lambda), the wrapped function's for a ``functools.partial``, else its class's
    (a callable object)."""
    name = getattr(hook, "__name__", None)
    if name is not None:
        return str(name)
    if isinstance(hook, partial):
        return hook_name(hook.func)  # Prefect stops at one level; nested partials too
    return type(hook).__name__


def run_hooks(
    hooks: Iterable[Callable[..., Any]],
    owner: Any,
    run: Any,
    state: Any,
    logger: RunLoggerAdapter,
) -> None:
    for hook in hooks:
        name = hook_name(hook)
        logger.emit(INFO, "Running hook %r in response to entering state %r", name, state.name)
        try:
            result = hook(owner, run, state)
            if inspect.isawaitable(result):
                run_awaitable(result)
        except Exception as exc:
            logger.emit(ERROR, "An error was encountered while running hook %r", name, exc=exc)
        else:
            logger.emit(INFO, "Hook %r finished running successfully", name)


def run_on_running(flow: Flow[..., Any], run: FlowRunRecord, logger: RunLoggerAdapter) -> None:
    """A flow's ``on_running`` hooks, with the ``Running`` state the run just entered.
    Prefect logs the first time through its engine logger (the run's own logger is not
    set up yet) and a retry's through the run's logger: the caller passes which."""
    if flow.on_running_hooks:
        run_hooks(flow.on_running_hooks, flow, run, State(StateType.RUNNING), logger)
