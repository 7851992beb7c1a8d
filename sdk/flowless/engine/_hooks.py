"""State hooks (``on_completion``, ``on_failure``): called after a run's final state, and
never allowed to change it: a failing hook is logged, as in Prefect."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["run_hooks"]


def run_hooks(
    hooks: Iterable[Callable[..., Any]],
    owner: Any,
    run: Any,
    state: Any,
    logger: logging.LoggerAdapter[logging.Logger],
) -> None:
    for hook in hooks:
        name = getattr(hook, "__name__", repr(hook))
        logger.info("Running hook %r in response to entering state %r", name, state.name)
        try:
            hook(owner, run, state)
        except Exception as exc:
            logger.error("An error was encountered while running hook %r", name, exc_info=exc)
        else:
            logger.info("Hook %r finished running successfully", name)
