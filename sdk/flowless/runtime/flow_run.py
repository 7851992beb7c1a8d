"""The current flow run, as module attributes read at access time (Prefect's
``prefect.runtime.flow_run``): ``from flowless.runtime import flow_run; flow_run.name``.

In a task, these describe the task's flow run. Outside any flow run each attribute has
Prefect's empty value: ``None``, ``tags == []``, ``parameters == {}``, ``run_count == 0``,
and ``scheduled_start_time`` is now (UTC). ``api_url`` and ``ui_url`` are ``None``:
flowless has no API server and no UI to link to. ``job_variables`` is ``{}`` in a flow
run (flowless deployments have no job variables). Environment variables can stand in for
any attribute in tests (``_overrides``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from flowless.runtime._overrides import read_attribute

# ``flow_version`` is one of this module's attributes: no global may carry its name.
from flowless.runtime._views import flow_run_view, lineage
from flowless.runtime._views import flow_version as _version_of
from flowless.store import FlowRunRecord

#: Prefect's names, in Prefect's order (its ``__all__``); ``dir()`` sorts them, as Prefect's.
_NAMES = (
    "id",
    "tags",
    "scheduled_start_time",
    "name",
    "flow_name",
    "flow_version",
    "parameters",
    "parent_flow_run_id",
    "parent_deployment_id",
    "root_flow_run_id",
    "run_count",
    "api_url",
    "ui_url",
    "job_variables",
)
__all__ = list(_NAMES)


def _record() -> FlowRunRecord | None:
    view = flow_run_view()
    return None if view is None else view.record


def _id() -> str | None:
    record = _record()
    return None if record is None else record.id


def _tags() -> list[str]:
    record = _record()
    return [] if record is None else list(record.tags)


def _scheduled_start_time() -> datetime:
    """When the run was expected to start: a deployment run's slot time (or the time
    ``run_deployment`` asked for), any other run's creation, as in Prefect."""
    record = _record()
    if record is None:
        return datetime.now(timezone.utc)
    when = record.scheduled_start_time
    return datetime.fromtimestamp(record.created if when is None else when, tz=timezone.utc)


def _name() -> str | None:
    record = _record()
    return None if record is None else record.name


def _flow_name() -> str | None:
    record = _record()
    return None if record is None else record.flow_name


def _flow_version() -> str | None:
    view = flow_run_view()
    return None if view is None or view.flow is None else _version_of(view.flow)


def _parameters() -> dict[str, Any]:
    view = flow_run_view()
    return {} if view is None else dict(view.parameters)


def _parent_flow_run_id() -> str | None:
    record = _record()
    return None if record is None else record.parent_flow_run_id


def _parent_deployment_id() -> str | None:
    view = flow_run_view()
    if view is None or view.record.parent_flow_run_id is None:
        return None
    runs = lineage(view)
    next(runs)
    parent = next(runs)
    return parent.deployment_id if isinstance(parent, FlowRunRecord) else None


def _root_flow_run_id() -> str | None:
    view = flow_run_view()
    if view is None:
        return None
    *_, root = lineage(view)
    return root.id if isinstance(root, FlowRunRecord) else root


def _run_count() -> int:
    record = _record()
    return 0 if record is None else record.run_count


def _no_url() -> None:
    return None


def _job_variables() -> dict[str, Any] | None:
    return None if _record() is None else {}


_FIELDS: dict[str, Callable[[], Any]] = {
    "id": _id,
    "tags": _tags,
    "scheduled_start_time": _scheduled_start_time,
    "name": _name,
    "flow_name": _flow_name,
    "flow_version": _flow_version,
    "parameters": _parameters,
    "parent_flow_run_id": _parent_flow_run_id,
    "parent_deployment_id": _parent_deployment_id,
    "root_flow_run_id": _root_flow_run_id,
    "run_count": _run_count,
    "api_url": _no_url,
    "ui_url": _no_url,
    "job_variables": _job_variables,
}


def __getattr__(name: str) -> Any:
    return read_attribute("flow_run", _FIELDS, name, qualified=__name__)


def __dir__() -> list[str]:
    return sorted(__all__)
