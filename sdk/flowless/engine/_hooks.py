"""State hooks (``on_completion``, ``on_failure``): called after a run's final state, and
never allowed to change it: a failing hook is logged, as in Prefect."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from logging import ERROR, INFO
from typing import Any

from flowless.logging._console import RunLoggerAdapter

__all__ = ["run_hooks"]


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
            hook(owner, run, state)
        except Exception as exc:
            logger.emit(ERROR, "An error was encountered while running hook %r", name, exc=exc)
        else:
            logger.emit(INFO, "Hook %r finished running successfully", name)
