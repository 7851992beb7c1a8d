"""The current task run, as module attributes read at access time (Prefect's
``prefect.runtime.task_run``): ``from flowless.runtime import task_run; task_run.name``.

Also inside a ``task_run_name`` callable, for the run being named. Outside any task run
each attribute has Prefect's empty value: ``None``, ``tags == []``, ``parameters == {}``,
``run_count == 0``. ``api_url`` and ``ui_url`` are ``None``: there is no API server or UI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowless.runtime._overrides import read_attribute
from flowless.runtime._views import task_run_view

#: Prefect's names, in Prefect's order (its ``__all__``); ``dir()`` sorts them, as Prefect's.
_NAMES = (
    "id",
    "tags",
    "name",
    "parameters",
    "run_count",
    "task_name",
    "api_url",
    "ui_url",
)
__all__ = list(_NAMES)


def _id() -> str | None:
    view = task_run_view()
    return None if view is None else view[0].id


def _tags() -> list[str]:
    view = task_run_view()
    return [] if view is None else list(view[0].tags)


def _name() -> str | None:
    view = task_run_view()
    return None if view is None else view[0].name


def _parameters() -> dict[str, Any]:
    view = task_run_view()
    return {} if view is None else dict(view[1])


def _run_count() -> int:
    view = task_run_view()
    return 0 if view is None else view[0].run_count


def _task_name() -> str | None:
    view = task_run_view()
    return None if view is None else view[0].task_name


def _no_url() -> None:
    return None


_FIELDS: dict[str, Callable[[], Any]] = {
    "id": _id,
    "tags": _tags,
    "name": _name,
    "parameters": _parameters,
    "run_count": _run_count,
    "task_name": _task_name,
    "api_url": _no_url,
    "ui_url": _no_url,
}


def __getattr__(name: str) -> Any:
    return read_attribute("task_run", _FIELDS, name, qualified=__name__)


def __dir__() -> list[str]:
    return sorted(__all__)
