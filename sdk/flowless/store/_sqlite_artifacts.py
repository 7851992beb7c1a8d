"""Artifacts in the embedded store: their table, and how they are written and read.

A mixin of ``SQLiteStore``. An artifact is written with the store's own connection and
flushed at once: a person made it and may look for it with ``flowless artifact`` from
another process before the run ends. ``data`` is kept as JSON text, so a progress float
and a markdown string both come back as they went in.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from flowless.exceptions import CorruptRecordError, RecordNotFoundError, StoreError
from flowless.store._records import ArtifactRecord

__all__ = ["ARTIFACT_SCHEMA", "SQLiteArtifacts", "artifact_from_row"]

ARTIFACT_SCHEMA = """
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY,
    key TEXT,
    type TEXT NOT NULL,
    description TEXT,
    data TEXT NOT NULL,
    flow_run_id TEXT,
    task_run_id TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_by_created ON artifacts (created, id);
CREATE INDEX IF NOT EXISTS artifacts_by_key ON artifacts (key, created, id);
CREATE INDEX IF NOT EXISTS artifacts_by_flow_run ON artifacts (flow_run_id, created, id);
"""

_COLUMNS = "id, key, type, description, data, flow_run_id, task_run_id, created, updated"
_NEWEST_FIRST = "ORDER BY created DESC, id DESC"
#: No newer artifact has the same key: the key's current version.
_LATEST = (
    "key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM artifacts AS newer WHERE newer.key = "
    "artifacts.key AND (newer.created > artifacts.created OR (newer.created = "
    "artifacts.created AND newer.id > artifacts.id)))"
)


def _text(name: str, value: Any, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected text, got {type(value).__name__}")
    return value


def artifact_from_row(row: tuple[Any, ...]) -> ArtifactRecord:
    """A stored artifact; ``ValueError``/``TypeError`` naming the column if it is not one."""
    id_, key, type_, description, data, flow_run_id, task_run_id, created, updated = row
    for name, value in (("created", created), ("updated", updated)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    return ArtifactRecord(
        id=str(_text("id", id_, optional=False)),
        key=_text("key", key),
        type=str(_text("type", type_, optional=False)),
        description=_text("description", description),
        data=json.loads(str(_text("data", data, optional=False))),
        flow_run_id=_text("flow_run_id", flow_run_id),
        task_run_id=_text("task_run_id", task_run_id),
        created=float(created),
        updated=float(updated),
    )


class SQLiteArtifacts:
    location: str

    if TYPE_CHECKING:  # SQLiteStore's own

        def _execute(
            self, action: str, sql: str, params: tuple[Any, ...] = ()
        ) -> sqlite3.Cursor: ...

        def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

        def flush(self) -> None: ...

    def create_artifact(self, artifact: ArtifactRecord) -> None:
        self._execute(
            "create an artifact",
            f"INSERT INTO artifacts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                artifact.id,
                artifact.key,
                artifact.type,
                artifact.description,
                json.dumps(artifact.data),
                artifact.flow_run_id,
                artifact.task_run_id,
                artifact.created,
                artifact.updated,
            ),
        )
        self.flush()

    def update_artifact(self, artifact_id: str, data: Any, description: str | None) -> None:
        cursor = self._execute(
            "update an artifact",
            "UPDATE artifacts SET data = ?, description = COALESCE(?, description), "
            "updated = ? WHERE id = ?",
            (json.dumps(data), description, time.time(), artifact_id),
        )
        if cursor.rowcount == 0:
            raise RecordNotFoundError(f"Artifact {artifact_id!r} not found in {self.location!r}.")
        self.flush()

    def read_artifact(self, artifact_id: str) -> ArtifactRecord:
        found = self._read(
            "read an artifact", f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)
        )
        if not found:
            raise RecordNotFoundError(f"Artifact {artifact_id!r} not found in {self.location!r}.")
        return found[0]

    def list_artifacts(
        self,
        key: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 100,
        latest: bool = False,
    ) -> list[ArtifactRecord]:
        where: list[str] = []
        params: list[Any] = []
        if key is not None:
            where.append("key = ?")
            params.append(key)
        if flow_run_id is not None:
            where.append("flow_run_id = ?")
            params.append(flow_run_id)
        if latest:
            where.append(_LATEST)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return self._read(
            "list artifacts",
            f"SELECT {_COLUMNS} FROM artifacts {clause}{_NEWEST_FIRST} LIMIT ?",
            (*params, limit),
        )

    def _read(self, action: str, sql: str, params: tuple[Any, ...]) -> list[ArtifactRecord]:
        try:
            rows = self._query(action, sql, params)
        except StoreError as exc:
            if "no such table: artifacts" in str(exc):
                return []  # a store made before artifacts, opened read-only: it has none
            raise
        out: list[ArtifactRecord] = []
        for row in rows:
            try:
                out.append(artifact_from_row(tuple(row)))
            except (ValueError, TypeError) as exc:
                raise CorruptRecordError(
                    f"Artifact {row[0]!r} in {self.location!r} is corrupt: {exc}"
                ) from exc
        return out
