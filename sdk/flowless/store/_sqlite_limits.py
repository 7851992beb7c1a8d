"""Concurrency limits in the embedded store's SQLite file.

One row per limit: the name, the version, and the rest as JSON. Every change is one
transaction (a savepoint, so a refused write of several limits undoes its own part only)
committed before the call returns: a slot must be durable and visible to other processes
the moment ``acquire`` returns.

Inside a process that runs flows, the limits share the run store's connection and lock
(``SQLiteLimits(path, store=...)``): a second connection would wait for the run store's
group-commit transaction to end (up to 10 ms) before every change, which made a tagged
task run cost ~20 ms. On the shared connection a change commits whatever runs wrote so
far along with it (they become durable a little early), ~0.1 ms. The CLI, which writes
no runs, uses a connection of its own.
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
from flowless.store._sqlite import SQLiteStore

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

    def __init__(self, path: str | os.PathLike[str], store: SQLiteStore | None = None) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._store = store
        self._lock = store._lock if store is not None else threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def _conn(self) -> sqlite3.Connection:
        """Opened on first use: most flows never touch a limit, and a process start
        should not pay for it (callers hold ``_lock``)."""
        if self._connection is None:
            try:
                if self._store is not None:
                    conn = self._store._conn
                else:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    conn = sqlite3.connect(
                        self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                    )
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
            except (OSError, sqlite3.DatabaseError) as exc:
                raise StoreUnavailableError(
                    f"Cannot open the concurrency limits in {self.location!r}: {exc}. "
                    "Set FLOWLESS_HOME to a directory you can write to."
                ) from exc
            self._connection = conn
        return self._connection

    def _commit(self) -> None:
        if self._store is not None:
            self._store._commit()  # the run store's open transaction, ours included
        elif self._conn.in_transaction:
            self._conn.execute("COMMIT")

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
        def create() -> None:
            try:
                self._conn.execute(
                    "INSERT INTO concurrency_limits (name, version, body) VALUES (?, 0, ?)",
                    (limit.name, _body(limit)),
                )
            except sqlite3.IntegrityError:
                raise RecordExistsError(
                    f"Concurrency limit {limit.name!r} already exists."
                ) from None

        self._transaction("create a concurrency limit", create)

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
        def delete() -> None:
            cursor = self._conn.execute("DELETE FROM concurrency_limits WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise RecordNotFoundError(f"Concurrency limit {name!r} not found.")

        self._transaction("delete a concurrency limit", delete)

    # -- leases without versions: read, check and write inside one write transaction -----

    def _transaction(self, action: str, body: Callable[[], _T]) -> _T:
        """``body()`` as one savepoint, committed before returning (or undone if it
        raises, leaving any run writes of the shared transaction as they were)."""
        with self._lock:
            try:
                conn = self._conn
                if not conn.in_transaction:
                    conn.execute("BEGIN IMMEDIATE")
                conn.execute("SAVEPOINT limits")
                try:
                    result = body()
                except BaseException:
                    conn.execute("ROLLBACK TO limits")
                    conn.execute("RELEASE limits")
                    self._commit()
                    raise
                conn.execute("RELEASE limits")
                self._commit()
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
                if not any(x.id == lease.id for x in r.leases)  # (a retry: taken already)
                and (
                    r.limit != limit[n]
                    or not r.active
                    or r.slot_decay_per_second != 0
                    or sum(x.slots for x in r.leases) + lease.slots > r.limit
                )
            }
            if len(current) < len(set(names)):
                raise RecordNotFoundError("A concurrency limit was deleted.")
            if refused:
                return refused
            for record in current.values():
                if any(x.id == lease.id for x in record.leases):
                    continue  # taken already (a retried call): never twice
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
        """Close the connection, if it is this object's own (the run store closes its)."""
        with self._lock:
            if self._connection is not None and self._store is None:
                self._connection.close()
            self._connection = None
