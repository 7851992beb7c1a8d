"""``task_run.id``, ``.name``, ``.task_name``, ``.parameters``, ``.run_count``, ``.tags``
of the current task run."""

from __future__ import annotations

from typing import Any

from flowless.runtime._views import attribute_of, task_run_view

#: Read at access time by ``__getattr__`` (PEP 562).
_ATTRIBUTES = (
    "id",
    "name",
    "parameters",
    "run_count",
    "tags",
    "task_name",
)
__all__ = list(_ATTRIBUTES)


def __getattr__(attribute: str) -> Any:
    if attribute not in _ATTRIBUTES:
        raise AttributeError(f"module 'flowless.runtime.task_run' has no attribute {attribute!r}")
    return attribute_of(task_run_view(), attribute)
