"""The ``Store`` protocol: the few primitives the engine needs from any backend.

Policy (retries, caching rules, replay) lives in the engine; a backend only offers
atomic reads and writes. The contract suite in ``tests/contract`` runs against every
implementation, so the DynamoDB store and the SQLite store mean the same thing.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from flowless.states import StateType
from flowless.store._records import (
    ArtifactRecord,
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    LogLine,
    TaskRunRecord,
)

__all__ = ["CANCELLABLE", "Store"]

#: The states a cancel may move a flow run out of: it is not final yet. A run already
#: Cancelling is left as it is (asked twice, the second ask changes nothing).
CANCELLABLE = (StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING)


@runtime_checkable
class Store(Protocol):
    #: Where the store lives, for error messages ("/home/me/.flowless/flowless.db").
    location: str

    def create_flow_run(self, run: FlowRunRecord) -> None:
        """Insert a new flow run; ``RecordExistsError`` if its id is taken."""

    def update_flow_run(self, run: FlowRunRecord) -> None:
        """Overwrite a flow run if its stored version is still ``run.version`` (then both
        become ``run.version + 1``). ``RecordConflictError`` if someone else updated it
        since it was read; ``RecordNotFoundError`` if it is not there."""

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        """``RecordNotFoundError`` if absent, ``CorruptRecordError`` if undecodable."""

    def list_flow_runs(
        self,
        limit: int = 20,
        flow_name: str | None = None,
        state: StateType | None = None,
        deployment: str | None = None,
    ) -> list[FlowRunRecord | CorruptRecord]:
        """Newest first, only those of ``flow_name``, in ``state``, of ``deployment``
        (``flow-name/deployment-name``) where given. Undecodable rows come back as
        ``CorruptRecord``."""

    def match_flow_runs(self, ref: str, limit: int = 1000) -> list[FlowRunRecord | CorruptRecord]:
        """Runs named ``ref`` or whose id starts with ``ref``, newest first: what a person
        may type for a run (``flowless.store.find_flow_run`` picks one of them)."""

    def delete_flow_run(self, flow_run_id: str) -> int:
        """Delete a flow run and its task runs (its journal); return how many task runs.
        ``RecordNotFoundError`` if the run is not there. Its subflows' runs, cache
        entries and result files are not touched: others may share them."""

    def cancel_flow_run(self, flow_run_id: str) -> bool:
        """Mark a flow run Cancelling (type CANCELLING, name "Cancelling", no message)
        if it is in ``CANCELLABLE``, in one conditional write that bumps its version: the
        process running it sees the mark at its next task boundary and ends it Cancelled.
        True if it changed the run; False (nothing written) if the run is in any other
        state. ``RecordNotFoundError`` if the run is not there. A run still Scheduled
        (no process has it: its starter claims it with a conditional write, which the
        bumped version refuses) becomes Cancelled at once, with its end time, as Prefect
        cancels a scheduled run."""

    def start_task_run(self, run: TaskRunRecord) -> None:
        """Record that a task run started (insert, or update a failed earlier attempt).

        A task run that is already COMPLETED is left as it is.
        """

    def finish_task_run(self, run: TaskRunRecord, *, new: bool = False) -> TaskRunRecord:
        """Record a task run's final state and return the stored record.

        COMPLETED is written once: if the run is already COMPLETED, nothing is written
        and the stored record (the one that won) is returned. ``new``: the record was
        made by this call and never stored, so no one else can have completed it (a
        store may then write it later, with others).
        """

    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord | CorruptRecord]:
        """Every task run of a flow run (its journal), oldest first."""

    def write_log(self, line: LogLine) -> None:
        """Keep one log line with its flow run. Lines may be written in batches, but a
        ``flush()`` (every flow run's end) leaves all lines so far readable."""

    def read_logs(self, flow_run_id: str, after: str | None = None) -> list[LogLine]:
        """A flow run's log lines in the order they were made; only those whose ``id``
        sorts after ``after`` (``flow-run logs --follow``)."""

    def create_artifact(self, artifact: ArtifactRecord) -> None:
        """Keep a new artifact (``flowless.artifacts``), durable when this returns: it is
        made once, by a person's call, not on the engine's hot path."""

    def update_artifact(self, artifact_id: str, data: Any, description: str | None) -> None:
        """Replace an artifact's data (and its description, unless None) and set its
        ``updated`` time: a progress artifact moves. ``RecordNotFoundError`` if absent."""

    def read_artifact(self, artifact_id: str) -> ArtifactRecord:
        """``RecordNotFoundError`` if absent, ``CorruptRecordError`` if undecodable."""

    def list_artifacts(
        self,
        key: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 100,
        latest: bool = False,
    ) -> list[ArtifactRecord]:
        """Newest first: the versions of ``key``, the artifacts of ``flow_run_id``, or
        all, as given; with ``latest``, only keyed artifacts and only each key's newest
        (``flowless artifact ls``). ``CorruptRecordError`` naming the first undecodable
        one."""

    def read_cache_entry(self, key: str, now: float) -> CacheEntry | None:
        """The entry, or None if absent or expired at ``now``."""

    def write_cache_entry(self, entry: CacheEntry) -> None:
        """Create or replace the entry for ``entry.key``."""

    def flush(self) -> None:
        """Make every write so far durable (a no-op where each write already is)."""

    def flush_thread(self) -> None:
        """Make this thread's writes durable now: it is about to wait for work, and no
        one else would write them soon (a no-op where each write already is)."""

    def close(self) -> None:
        """Flush, then release connections; the store is not used afterwards."""
