"""Finding the runs that ``flowless.runtime`` attributes describe.

The current flow run is the one in this thread's context; a subflow's parents are found
through their contexts (same process), and anything further up (the caller of
``run_deployment``, or every run when a task runs alone in the task-run Lambda) through
the store, as Prefect reads them through its API. Nothing here is on a hot path: each
attribute access looks again, so values are always the run's current ones.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowless.context import _task_run, current_flow_run, naming
from flowless.exceptions import StoreError
from flowless.store import FlowRunRecord, TaskRunRecord

if TYPE_CHECKING:
    from flowless.context import FlowRunContext
    from flowless.flows import Flow
    from flowless.results import Results
    from flowless.store import Store

__all__ = [
    "FlowRunView",
    "deployment_run",
    "flow_run_view",
    "flow_version",
    "lineage",
    "stored_parameters",
    "task_run_view",
]


@dataclass(frozen=True, slots=True)
class FlowRunView:
    """A flow run as the runtime sees it: its record, its parameters as bound (defaults
    included, as Prefect's ``flow_run.parameters``), its flow when it runs here, and its
    parent's context when that parent runs in this process."""

    record: FlowRunRecord
    parameters: dict[str, Any]
    flow: Flow[..., Any] | None = None
    parent: FlowRunContext | None = None
    store: Store | None = None
    results: Results | None = None

    def store_and_results(self) -> tuple[Store, Results]:
        if self.store is not None and self.results is not None:
            return self.store, self.results
        return _current_store_and_results()


def _current_store_and_results() -> tuple[Store, Results]:
    from flowless.engine._runtime import current_runtime

    runtime = current_runtime()
    return runtime.store, runtime.results


def flow_run_view() -> FlowRunView | None:
    """The current flow run: the one being named by a ``flow_run_name`` callable, the
    flow run context of this thread, or (a task run with no flow run here: the task-run
    Lambda) the task run's flow run, read from the store."""
    named = naming.get()
    if named is not None and isinstance(named[0], FlowRunRecord):
        running = current_flow_run()  # for a subflow being named: its parent
        if running is None:
            return FlowRunView(named[0], named[1])
        return FlowRunView(named[0], named[1], None, running, running.store, running.results)
    ctx = current_flow_run()
    if ctx is not None:
        return FlowRunView(
            ctx.flow_run, ctx.parameters, ctx.flow, ctx.parent, ctx.store, ctx.results
        )
    task = _task_run.get()
    if task is None or task.task_run.flow_run_id is None:
        return None
    store, results = _current_store_and_results()
    record = _read(store, task.task_run.flow_run_id)
    if record is None:
        return None
    view = FlowRunView(record, {}, store=store, results=results)
    return FlowRunView(record, stored_parameters(view, record), store=store, results=results)


def _read(store: Store, flow_run_id: str) -> FlowRunRecord | None:
    try:
        return store.read_flow_run(flow_run_id)
    except StoreError:  # gone or unreadable: the runtime reports what it can
        return None


def task_run_view() -> tuple[TaskRunRecord, dict[str, Any]] | None:
    """The current task run (or the one a ``task_run_name`` callable is naming)."""
    named = naming.get()
    if named is not None and isinstance(named[0], TaskRunRecord):
        return named
    ctx = _task_run.get()
    return (ctx.task_run, ctx.parameters) if ctx is not None else None


def lineage(view: FlowRunView) -> Iterator[FlowRunRecord | str]:
    """The run, its parent, and so on up to its root flow run. Parents running in this
    process come from their contexts; others are read from the store. A parent that
    cannot be read ends the walk with its id (a ``str``) instead of its record."""
    record, parent = view.record, view.parent
    seen = {record.id}
    yield record
    while record.parent_flow_run_id is not None and record.parent_flow_run_id not in seen:
        parent_id = record.parent_flow_run_id
        if parent is not None and parent.flow_run.id == parent_id:
            record, parent = parent.flow_run, parent.parent
        else:
            found = _read(view.store_and_results()[0], parent_id)
            if found is None:
                yield parent_id
                return
            record, parent = found, None
        seen.add(record.id)
        yield record


def deployment_run(view: FlowRunView) -> tuple[FlowRunRecord, Flow[..., Any] | None] | None:
    """The deployment's flow run this run belongs to: itself if a deployment started it,
    else the nearest such parent (a subflow of a deployment's run belongs to it, as in
    Prefect, where the whole process belongs to the run its runner started). With the
    run's flow object when that run is running in this process."""
    flows: dict[str, Flow[..., Any]] = {}
    if view.flow is not None:
        flows[view.record.id] = view.flow
    parent = view.parent
    while parent is not None:
        flows[parent.flow_run.id] = parent.flow
        parent = parent.parent
    for record in lineage(view):
        if isinstance(record, FlowRunRecord) and record.deployment_id is not None:
            return record, flows.get(record.id)
    return None


def stored_parameters(view: FlowRunView, record: FlowRunRecord) -> dict[str, Any]:
    """The parameters stored with ``record``: for a deployment's run, the deployment's
    parameters merged with those the run was started with (no flow defaults), which is
    what Prefect's ``deployment.parameters`` gives."""
    if record.parameters is None:
        return {}
    value = view.store_and_results()[1].load(record.parameters, f"the parameters of {record.id}")
    return dict(value) if isinstance(value, dict) else {}


def flow_version(flow: Flow[..., Any]) -> str | None:
    """The flow's ``version``, or as Prefect defaults it: the md5 of the file that defines
    the flow's function (``None`` for a function without a source file)."""
    if flow.version:
        return flow.version
    try:
        path = inspect.getsourcefile(flow.fn)
    except TypeError:
        return None
    return None if path is None else _file_md5(path)


@lru_cache(maxsize=64)
def _file_md5(path: str) -> str | None:
    """Read once per file, as Prefect reads it once when the flow is defined."""
    try:
        return hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest()
    except OSError:
        return None
