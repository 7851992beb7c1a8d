"""Flow runs in the embedded store: created, updated (a version check), read, listed,
matched by id prefix or name, cancelled (one conditional UPDATE) and deleted.

A mixin of ``SQLiteStore``. Every write goes through ``write_after_rows``: the task runs
and log lines held until then land in the same transaction, first, so a flow run never
ends on disk before its task runs do.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from flowless.exceptions import (
    CorruptRecordError,
    RecordConflictError,
    RecordExistsError,
    RecordNotFoundError,
)
from flowless.states import StateType
from flowless.store._protocol import CANCELLABLE
from flowless.store._records import CorruptRecord, FlowRunRecord
from flowless.store._sqlite_rows import flow_run_from_row, flow_run_params, flow_runs_from_rows
from flowless.store._sqlite_schema import FLOW_COLUMNS

if TYPE_CHECKING:
    from flowless.store._sqlite_commit import GroupCommit

__all__ = ["SQLiteFlowRuns"]

_FLOW_PLACEHOLDERS = ", ".join("?" * len(FLOW_COLUMNS.split(",")))


class SQLiteFlowRuns:
    location: str
    _conn: sqlite3.Connection

    if TYPE_CHECKING:  # SQLiteStore's own

        def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

        def _writer_or_fail(self) -> GroupCommit: ...

    def create_flow_run(self, run: FlowRunRecord) -> None:
        sql = f"INSERT INTO flow_runs ({FLOW_COLUMNS}) VALUES ({_FLOW_PLACEHOLDERS})"
        try:
            self._writer_or_fail().write_after_rows(
                "create a flow run",
                lambda: self._conn.execute(sql, flow_run_params(run)),
            )
        except RecordExistsError:
            raise RecordExistsError(f"Flow run {run.id!r} already exists.") from None

    def update_flow_run(self, run: FlowRunRecord) -> None:
        columns = [c.strip() for c in FLOW_COLUMNS.split(",")][1:-1]  # not id, not version
        assignments = ", ".join(f"{c} = ?" for c in columns)
        params = flow_run_params(run)

        def update() -> sqlite3.Cursor:
            cursor = self._conn.execute(
                f"UPDATE flow_runs SET {assignments}, version = version + 1 "
                "WHERE id = ? AND version = ?",
                (*params[1:-1], run.id, run.version),
            )
            if cursor.rowcount == 0:
                found = self._conn.execute(
                    "SELECT version FROM flow_runs WHERE id = ?", (run.id,)
                ).fetchone()
                if found is None:
                    raise RecordNotFoundError(
                        f"Flow run {run.id!r} not found in {self.location!r}."
                    )
                raise RecordConflictError(
                    f"Flow run {run.id!r} was changed by someone else (version {found[0]}, "
                    f"this update expected {run.version})."
                )
            return cursor

        self._writer_or_fail().write_after_rows("update a flow run", update)
        run.version += 1

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        rows = self._query(
            "read a flow run",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs WHERE id = ?",
            (flow_run_id,),
        )
        if not rows:
            raise RecordNotFoundError(f"Flow run {flow_run_id!r} not found in {self.location!r}.")
        try:
            return flow_run_from_row(rows[0])
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"Flow run {flow_run_id!r} in {self.location!r} is corrupt: {exc}"
            ) from exc

    def list_flow_runs(
        self,
        limit: int = 20,
        flow_name: str | None = None,
        state: StateType | None = None,
        deployment: str | None = None,
    ) -> list[FlowRunRecord | CorruptRecord]:
        filters = [
            (column, value)
            for column, value in (
                ("flow_name", flow_name),
                ("state_type", state.value if state is not None else None),
                ("deployment_name", deployment),
            )
            if value
        ]
        where = " AND ".join(f"{column} = ?" for column, _ in filters)
        rows = self._query(
            "list flow runs",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs {'WHERE ' + where if where else ''} "
            "ORDER BY created DESC, rowid DESC LIMIT ?",
            (*(value for _, value in filters), limit),
        )
        return flow_runs_from_rows(rows)

    def match_flow_runs(self, ref: str, limit: int = 1000) -> list[FlowRunRecord | CorruptRecord]:
        # substr, not LIKE: an id prefix holding % or _ must match only itself.
        rows = self._query(
            "find flow runs",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs WHERE name = ? OR substr(id, 1, ?) = ? "
            "ORDER BY created DESC, rowid DESC LIMIT ?",
            (ref, len(ref), ref, limit),
        )
        return flow_runs_from_rows(rows)

    def delete_flow_run(self, flow_run_id: str) -> int:
        deleted = 0

        def delete() -> sqlite3.Cursor:
            nonlocal deleted
            cursor = self._conn.execute("DELETE FROM flow_runs WHERE id = ?", (flow_run_id,))
            if cursor.rowcount == 0:
                raise RecordNotFoundError(
                    f"Flow run {flow_run_id!r} not found in {self.location!r}."
                )
            deleted = self._conn.execute(
                "DELETE FROM task_runs WHERE flow_run_id = ?", (flow_run_id,)
            ).rowcount
            self._conn.execute("DELETE FROM logs WHERE flow_run_id = ?", (flow_run_id,))
            self._conn.execute("DELETE FROM log_chunks WHERE flow_run_id = ?", (flow_run_id,))
            return cursor

        self._writer_or_fail().write_after_rows("delete a flow run", delete)
        return deleted

    def cancel_flow_run(self, flow_run_id: str) -> bool:
        """One conditional UPDATE: a run that ended meanwhile is not touched."""
        changed = False
        allowed = ", ".join("?" for _ in CANCELLABLE)

        def cancel() -> sqlite3.Cursor:
            nonlocal changed
            # SET's expressions all see the row as it was: a Scheduled run (nobody runs
            # it) ends at once; a started one is marked for its process to see
            scheduled = StateType.SCHEDULED.value
            cursor = self._conn.execute(
                "UPDATE flow_runs SET "
                "state_type = CASE WHEN state_type = ? THEN ? ELSE ? END, "
                "state_name = CASE WHEN state_type = ? THEN 'Cancelled' ELSE 'Cancelling' END, "
                "end_time = CASE WHEN state_type = ? THEN ? ELSE end_time END, "
                "state_message = NULL, version = version + 1 "
                f"WHERE id = ? AND state_type IN ({allowed})",
                (
                    scheduled,
                    StateType.CANCELLED.value,
                    StateType.CANCELLING.value,
                    scheduled,
                    scheduled,
                    time.time(),
                    flow_run_id,
                    *(t.value for t in CANCELLABLE),
                ),
            )
            changed = cursor.rowcount == 1
            if (
                not changed
                and not self._conn.execute(
                    "SELECT 1 FROM flow_runs WHERE id = ?", (flow_run_id,)
                ).fetchone()
            ):
                raise RecordNotFoundError(
                    f"Flow run {flow_run_id!r} not found in {self.location!r}."
                )
            return cursor

        self._writer_or_fail().write_after_rows("cancel a flow run", cancel)
        return changed
