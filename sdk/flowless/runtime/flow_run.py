"""``flow_run.id``, ``.name``, ``.flow_name``, ``.parameters``, ``.run_count``,
``.parent_flow_run_id``, ``.tags``, ``.scheduled_start_time`` of the current flow run."""

from __future__ import annotations

from typing import Any

from flowless.runtime._views import attribute_of, flow_run_view

#: Read at access time by ``__getattr__`` (PEP 562).
_ATTRIBUTES = (
    "flow_name",
    "id",
    "name",
    "parameters",
    "parent_flow_run_id",
    "run_count",
    "scheduled_start_time",
    "tags",
)
__all__ = list(_ATTRIBUTES)


def __getattr__(attribute: str) -> Any:
    if attribute not in _ATTRIBUTES:
        raise AttributeError(f"module 'flowless.runtime.flow_run' has no attribute {attribute!r}")
    return attribute_of(flow_run_view(), attribute)
