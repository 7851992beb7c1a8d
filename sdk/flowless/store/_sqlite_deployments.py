"""The embedded store's deployment tables (see ``_deployment_state``): pause state,
registrations by ``serve``, and the due scheduled runs ``serve`` picks up.

A mixin of ``SQLiteStore``: it shares the store's connection, lock and group commit, and
flushes after each write, because a pause or a registration must hold at once for the
other processes on the same ``FLOWLESS_HOME``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from flowless.exceptions import CorruptRecordError, RecordNotFoundError
from flowless.states import StateType
from flowless.store._records import CorruptRecord, FlowRunRecord
from flowless.store._sqlite_rows import flow_runs_from_rows
from flowless.store._sqlite_schema import FLOW_COLUMNS

__all__ = ["SQLiteDeployments"]


class SQLiteDeployments:
    location: str

    if TYPE_CHECKING:  # SQLiteStore's own

        def _execute(
            self, action: str, sql: str, params: tuple[Any, ...] = ()
        ) -> sqlite3.Cursor: ...

        def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

        def flush(self) -> None: ...

    # -- pause state ---------------------------------------------------------------------

    def read_paused(self, deployment: str) -> bool | None:
        rows = self._query(
            "read a deployment's pause state",
            "SELECT paused FROM deployment_states WHERE name = ?",
            (deployment,),
        )
        return None if not rows else bool(rows[0][0])

    def set_paused(self, deployment: str, paused: bool) -> None:
        self._execute(
            "pause or resume a deployment",
            "INSERT INTO deployment_states (name, paused, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated = excluded.updated",
            (deployment, int(paused), time.time()),
        )
        self.flush()

    # -- registrations (serve) -----------------------------------------------------------

    def register_deployment(self, name: str, body: dict[str, Any]) -> None:
        """Create or replace the definition ``serve`` runs under ``name``."""
        self._execute(
            "register a deployment",
            "INSERT INTO deployments (name, body, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated = excluded.updated",
            (name, json.dumps(body, sort_keys=True), time.time()),
        )
        self.flush()

    def read_registration(self, name: str) -> dict[str, Any]:
        rows = self._query(
            "read a deployment", "SELECT body FROM deployments WHERE name = ?", (name,)
        )
        if not rows:
            raise RecordNotFoundError(f"Deployment {name!r} not found in {self.location!r}.")
        return _body(name, rows[0][0], self.location)

    def list_registrations(self) -> list[dict[str, Any] | CorruptRecord]:
        out: list[dict[str, Any] | CorruptRecord] = []
        for name, body in self._query(
            "list deployments", "SELECT name, body FROM deployments ORDER BY name"
        ):
            try:
                out.append(_body(name, body, self.location))
            except CorruptRecordError as exc:
                out.append(CorruptRecord("deployment", str(name), str(exc)))
        return out

    # -- due runs (serve) ----------------------------------------------------------------

    def due_flow_runs(
        self, now: float, deployments: list[str], limit: int = 50
    ) -> list[FlowRunRecord | CorruptRecord]:
        """Scheduled runs of these deployments whose time has come, oldest first."""
        if not deployments:
            return []
        marks = ", ".join("?" * len(deployments))
        rows = self._query(
            "list due flow runs",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs WHERE state_type = ? "
            f"AND deployment_name IN ({marks}) AND COALESCE(scheduled_start_time, 0) <= ? "
            "ORDER BY scheduled_start_time, created LIMIT ?",
            (StateType.SCHEDULED.value, *deployments, now, limit),
        )
        return flow_runs_from_rows(rows)


def _body(name: str, raw: Any, location: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise CorruptRecordError(f"Deployment {name!r} in {location!r} is corrupt: {exc}") from exc
    if not isinstance(body, dict):
        raise CorruptRecordError(f"Deployment {name!r} in {location!r} is corrupt: not an object")
    return body
