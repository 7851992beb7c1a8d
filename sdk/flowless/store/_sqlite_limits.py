"""Concurrency limits in the embedded store's SQLite file.

One row per limit: the name, the version, and the rest as JSON. The limits use a
connection of their own in autocommit mode, not the run store's group commit: a slot
must be durable and visible to other processes the moment ``acquire`` returns, and a
write here is rare next to task-run writes. A conditional write is ``UPDATE ... WHERE
version = ?`` inside ``BEGIN IMMEDIATE``, so several limits change together or not at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from flowless.exceptions import (
    CorruptRecordError,
    RecordConflictError,
    RecordExistsError,
    RecordNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from flowless.store._limits import Lease, LimitRecord
from flowless.store._records import CorruptRecord

__all__ = ["SQLiteLimits"]

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS concurrency_limits (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL
)
"""


def _body(limit: LimitRecord) -> str:
    return json.dumps(
        {
            "limit": limit.limit,
            "slot_decay_per_second": limit.slot_decay_per_second,
            "active": limit.active,
            "pool": limit.pool,
            "pool_time": limit.pool_time,
            "leases": [[x.id, x.slots, x.expires, x.holder] for x in limit.leases],
            "created": limit.created,
            "updated": limit.updated,
        },
        separators=(",", ":"),
    )


def _number(body: dict[str, Any], key: str) -> float:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{key} is {type(value).__name__}, not a number")
    return float(value)


def _decode(name: str, version: int, text: str) -> LimitRecord:
    body = json.loads(text)
    if not isinstance(body, dict):
        raise TypeError("the row is not a JSON object")
    limit = body["limit"]
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit is {type(limit).__name__}, not an integer")
    active = body["active"]
    if not isinstance(active, bool):
        raise TypeError(f"active is {type(active).__name__}, not a boolean")
    leases = []
    for entry in body["leases"]:
        lease_id, slots, expires, holder = entry
        if not isinstance(lease_id, str) or not isinstance(slots, int):
            raise TypeError(f"lease {entry!r} is malformed")
        leases.append(Lease(lease_id, slots, float(expires), str(holder)))
    return LimitRecord(
        name=name,
        limit=limit,
        slot_decay_per_second=_number(body, "slot_decay_per_second"),
        active=active,
        pool=_number(body, "pool"),
        pool_time=_number(body, "pool_time"),
        leases=tuple(leases),
        created=_number(body, "created"),
        updated=_number(body, "updated"),
        version=version,
    )


class SQLiteLimits:
    """``LimitStore`` in the SQLite file at ``path`` (the embedded store's database)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreUnavailableError(
                f"Cannot open the concurrency limits in {self.location!r}: {exc}. "
                "Set FLOWLESS_HOME to a directory you can write to."
            ) from exc

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        """The one place sqlite3 errors become flowless errors."""
        return StoreError(f"Store {self.location!r} failed to {action}: {exc}")

    def _decode_row(self, row: tuple[str, int, str]) -> LimitRecord:
        try:
            return _decode(*row)
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptRecordError(
                f"Concurrency limit {row[0]!r} in {self.location!r} is corrupt: {exc}"
            ) from None

    def create_limit(self, limit: LimitRecord) -> None:
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO concurrency_limits (name, version, body) VALUES (?, 0, ?)",
                    (limit.name, _body(limit)),
                )
        except sqlite3.IntegrityError:
            raise RecordExistsError(f"Concurrency limit {limit.name!r} already exists.") from None
        except sqlite3.Error as exc:
            raise self._error("create a concurrency limit", exc) from exc

    def read_limits(self, names: Sequence[str]) -> dict[str, LimitRecord]:
        if not names:
            return {}
        marks = ",".join("?" * len(names))
        try:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT name, version, body FROM concurrency_limits WHERE name IN ({marks})",
                    tuple(names),
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read concurrency limits", exc) from exc
        return {row[0]: self._decode_row(row) for row in rows}

    def list_limits(self) -> list[LimitRecord | CorruptRecord]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT name, version, body FROM concurrency_limits ORDER BY name"
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("list concurrency limits", exc) from exc
        found: list[LimitRecord | CorruptRecord] = []
        for row in rows:
            try:
                found.append(self._decode_row(row))
            except CorruptRecordError as exc:
                found.append(CorruptRecord("concurrency limit", row[0], str(exc)))
        return found

    def write_limits(self, limits: Sequence[LimitRecord]) -> None:
        def write() -> None:
            for limit in limits:
                self._write_one(limit)

        self._transaction("write concurrency limits", write)

    def _write_one(self, limit: LimitRecord) -> None:
        cursor = self._conn.execute(
            "UPDATE concurrency_limits SET version = version + 1, body = ? "
            "WHERE name = ? AND version = ?",
            (_body(limit), limit.name, limit.version),
        )
        if cursor.rowcount == 1:
            return
        row = self._conn.execute(
            "SELECT version FROM concurrency_limits WHERE name = ?", (limit.name,)
        ).fetchone()
        if row is None:
            raise RecordNotFoundError(f"Concurrency limit {limit.name!r} not found.")
        raise RecordConflictError(
            f"Concurrency limit {limit.name!r} was changed by someone else (version "
            f"{row[0]}, this write expected {limit.version})."
        )

    def delete_limit(self, name: str) -> None:
        try:
            with self._lock:
                cursor = self._conn.execute(
                    "DELETE FROM concurrency_limits WHERE name = ?", (name,)
                )
        except sqlite3.Error as exc:
            raise self._error("delete a concurrency limit", exc) from exc
        if cursor.rowcount == 0:
            raise RecordNotFoundError(f"Concurrency limit {name!r} not found.")

    # -- leases without versions: read, check and write inside one write transaction -----

    def _transaction(self, action: str, body: Callable[[], _T]) -> _T:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    result = body()
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise self._error(action, exc) from exc

    def _current(self, name: str) -> LimitRecord | None:
        row = self._conn.execute(
            "SELECT name, version, body FROM concurrency_limits WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else self._decode_row(row)

    def _put(self, limit: LimitRecord) -> None:
        self._conn.execute(
            "UPDATE concurrency_limits SET version = version + 1, body = ? WHERE name = ?",
            (_body(limit), limit.name),
        )

    def add_lease(
        self, names: Sequence[str], lease: Lease, limit: Mapping[str, int]
    ) -> dict[str, LimitRecord]:
        def add() -> dict[str, LimitRecord]:
            current = {n: r for n in dict.fromkeys(names) if (r := self._current(n)) is not None}
            refused = {
                n: r
                for n, r in current.items()
                if r.limit != limit[n]
                or not r.active
                or r.slot_decay_per_second != 0
                or sum(x.slots for x in r.leases) + lease.slots > r.limit
            }
            if len(current) < len(set(names)):
                raise RecordNotFoundError("A concurrency limit was deleted.")
            if refused:
                return refused
            for record in current.values():
                self._put(replace(record, leases=(*record.leases, lease), updated=time.time()))
            return {}

        return self._transaction("take concurrency slots", add)

    def remove_lease(
        self, name: str, lease_id: str, slots: int, expires: float | None = None
    ) -> bool:
        def remove() -> bool:
            record = self._current(name)
            if record is None:
                return False
            kept = tuple(
                x
                for x in record.leases
                if x.id != lease_id or (expires is not None and x.expires != expires)
            )
            if len(kept) == len(record.leases):
                return False
            self._put(replace(record, leases=kept, updated=time.time()))
            return True

        return self._transaction("give back concurrency slots", remove)

    def renew_lease(self, name: str, lease_id: str, expires: float) -> bool:
        def renew() -> bool:
            record = self._current(name)
            if record is None or not any(x.id == lease_id for x in record.leases):
                return False
            leases = tuple(
                replace(x, expires=expires) if x.id == lease_id else x for x in record.leases
            )
            self._put(replace(record, leases=leases, updated=time.time()))
            return True

        return self._transaction("renew a concurrency lease", renew)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
