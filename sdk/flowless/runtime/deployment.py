"""The deployment whose run is running, as module attributes read at access time
(Prefect's ``prefect.runtime.deployment``): ``id``, ``flow_run_id``, ``name``,
``parameters``, ``version``.

A run belongs to a deployment when ``run_deployment`` or a schedule made it, and so does
everything inside it: its tasks and subflows (Prefect ties these attributes to the
process its runner started for that run). ``flow_run_id`` is that run's id (for a subflow,
its deployment run's, not its own). ``name`` is the deployment's own name (``daily``, not
``etl/daily``). ``parameters`` are the deployment's parameters merged with those the run
was started with, without the flow's defaults, as Prefect defines them. ``version`` is
the manifest's code hash for a deployment from ``flowless build`` (the build's version of
the code), else the flow's version (Prefect's default for a deployment). Outside a
deployment's run: ``None``, and ``parameters == {}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from flowless.runtime._overrides import read_attribute
from flowless.runtime._views import (
    FlowRunView,
    deployment_run,
    flow_run_view,
    flow_version,
    stored_parameters,
)
from flowless.store import FlowRunRecord

if TYPE_CHECKING:
    from flowless.flows import Flow

#: Prefect's names, in Prefect's order (its ``__all__``); ``dir()`` sorts them, as Prefect's.
_NAMES = ("id", "flow_run_id", "name", "parameters", "version")
__all__ = list(_NAMES)


class _Found(NamedTuple):
    view: FlowRunView  # the current flow run
    run: FlowRunRecord  # the deployment's run it belongs to
    flow: Flow[..., Any] | None  # that run's flow, when it runs in this process


def _found() -> _Found | None:
    view = flow_run_view()
    if view is None:
        return None
    found = deployment_run(view)
    return None if found is None else _Found(view, *found)


def _id() -> str | None:
    found = _found()
    return None if found is None else found.run.deployment_id


def _flow_run_id() -> str | None:
    found = _found()
    return None if found is None else found.run.id


def _name() -> str | None:
    found = _found()
    if found is None or found.run.deployment_name is None:
        return None
    return found.run.deployment_name.removeprefix(f"{found.run.flow_name}/")


def _parameters() -> dict[str, Any]:
    found = _found()
    return {} if found is None else stored_parameters(found.view, found.run)


def _version() -> str | None:
    found = _found()
    if found is None:
        return None
    if found.run.code_hash is not None:
        return found.run.code_hash
    return None if found.flow is None else flow_version(found.flow)


_FIELDS: dict[str, Callable[[], Any]] = {
    "id": _id,
    "flow_run_id": _flow_run_id,
    "parameters": _parameters,
    "name": _name,
    "version": _version,
}


def __getattr__(name: str) -> Any:
    return read_attribute("deployment", _FIELDS, name, qualified=__name__)


def __dir__() -> list[str]:
    return sorted(__all__)
