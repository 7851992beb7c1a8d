"""What a store holds: flow runs, task runs (the journal), cache entries.

Plain slotted dataclasses, shared by every backend, so the engine never sees a row,
an item, or a backend's types. Values (parameters, results) arrive already serialized
as ``Payload``: stores move bytes, the results layer decides what the bytes mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flowless.states import StateType

__all__ = [
    "ArtifactRecord",
    "CacheEntry",
    "CorruptRecord",
    "FlowRunRecord",
    "LogLine",
    "Payload",
    "TaskRunRecord",
]


@dataclass(slots=True)
class Payload:
    """A serialized value: inline bytes, or the location of a blob in result storage."""

    serializer: str
    data: bytes | None = None
    location: str | None = None


@dataclass(slots=True)
class FlowRunRecord:
    id: str
    name: str
    flow_name: str
    state_type: StateType
    state_name: str
    state_message: str | None = None
    parameters: Payload | None = None
    parent_flow_run_id: str | None = None
    parent_task_run_id: str | None = None
    deployment_id: str | None = None
    created: float = 0.0
    start_time: float | None = None
    end_time: float | None = None
    run_count: int = 0
    result: Payload | None = None
    tags: list[str] = field(default_factory=list)
    #: For runs of a deployment (docs/deployments.md): ``flow-name/deployment-name``, the
    #: schedule that fired it, the slot's nominal time (epoch seconds), the caller's
    #: idempotency key, and the code hash of the build that defined the deployment.
    deployment_name: str | None = None
    schedule_slug: str | None = None
    scheduled_start_time: float | None = None
    idempotency_key: str | None = None
    code_hash: str | None = None
    #: Which flow made it: ``module.qualname@<source hash>``; a resume with another flow
    #: of the same name is refused (``Flow.identity``).
    flow_identity: str | None = None
    #: The process running it (``host:pid:start``), so nobody resumes a live run.
    owner: str | None = None
    #: Bumped by every update; an update based on an older version is refused, so two
    #: processes can never both take over one run (see ``Store.update_flow_run``).
    version: int = 0

    @property
    def flow_run_id(self) -> str:
        return self.id


@dataclass(slots=True)
class TaskRunRecord:
    """One task call in a flow run, keyed by (flow run id, task key, dynamic key).

    ``dynamic_key`` is n for the n-th call of that task in the run: a re-run of the
    flow body makes the same calls in the same order, so it finds the same keys.
    """

    id: str
    flow_run_id: str | None
    task_key: str
    dynamic_key: int
    name: str
    task_name: str
    state_type: StateType
    state_name: str
    state_message: str | None = None
    run_count: int = 0
    start_time: float | None = None
    end_time: float | None = None
    cache_key: str | None = None
    result: Payload | None = None
    child_flow_run_id: str | None = None
    tags: list[str] = field(default_factory=list)
    #: What the run was called with: parameter name -> a bounded repr of the argument
    #: (``flowless.engine._inputs``), for the run UI; ``None`` if not known (a run
    #: recorded before inputs were kept, or one that never got its inputs: NotReady).
    #: Replaced, never changed in place (a store may reuse the encoding of the same dict).
    inputs: dict[str, str] | None = None

    @property
    def task_run_id(self) -> str:
        return self.id


@dataclass(slots=True)
class CacheEntry:
    key: str
    result: Payload
    created: float
    expires: float | None = None

    def is_valid(self, now: float) -> bool:
        return self.expires is None or self.expires > now


@dataclass(slots=True)
class CorruptRecord:
    """A stored row that could not be decoded, reported instead of failing the whole read."""

    kind: str
    key: str
    reason: str

    def describe(self) -> str:
        return f"{self.kind} {self.key!r} is corrupt: {self.reason}"


class LogLine(NamedTuple):
    """One log line of a run, kept with it (``flowless flow-run logs``, the UI).

    ``id`` orders a run's lines: the time in ns, then the process and a counter, so it
    is unique across processes and sorts as the lines were made. ``run_name`` is the task
    run's name for a task run's line (``task_run_id`` set), else the flow run's. A named
    tuple, not a dataclass: one is made per line on the task's thread, and the embedded
    store holds it as the row it writes."""

    id: str
    flow_run_id: str
    task_run_id: str | None
    run_name: str
    time: float
    level: int
    logger: str
    message: str

    def as_row(self) -> tuple[Any, ...]:
        """Every field, in the order above (how both stores write a line)."""
        return self


@dataclass(slots=True)
class ArtifactRecord:
    """One artifact (``flowless.artifacts``): what a run chose to show about itself.

    Several artifacts may share a ``key``: each is a version, and the newest is the key's
    current one (``flowless artifact ls``). ``data`` is any JSON value (a markdown string,
    a table's JSON text, a progress float): stores keep it as JSON, so it comes back as it
    went in. No run ids: it was made outside any flow or task run."""

    id: str
    key: str | None
    type: str
    description: str | None
    data: Any
    flow_run_id: str | None = None
    task_run_id: str | None = None
    created: float = 0.0
    updated: float = 0.0
