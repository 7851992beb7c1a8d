"""None binds as NULL and bytes as a blob through the adapters the store registers on
Python 3.11 (``bind_directly``), once it opens a connection that writes, without
replacing an adapter someone registered first."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from flowless.store import SQLiteStore, _sqlite_writer
from flowless.store._sqlite_writer import bind_directly

_KEY = (type(None), sqlite3.PrepareProtocol)
_BYTES = (bytes, sqlite3.PrepareProtocol)
_BEFORE_312 = sys.version_info < (3, 12)


def test_none_is_bound_as_null_once_a_store_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sqlite3.adapters, _KEY, raising=False)
    monkeypatch.delitem(sqlite3.adapters, _BYTES, raising=False)
    import flowless  # noqa: F401 - importing registers nothing

    assert _KEY not in sqlite3.adapters and _BYTES not in sqlite3.adapters
    store = SQLiteStore(tmp_path / "s.db")
    try:
        if _BEFORE_312:
            assert sqlite3.adapters[_KEY] is _sqlite_writer._NULL
            assert sqlite3.adapters[_BYTES] is bytes
        else:  # 3.12 binds None and bytes without raising: nothing to gain
            assert _KEY not in sqlite3.adapters and _BYTES not in sqlite3.adapters
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (a TEXT, b BLOB, c REAL, d BLOB, e BLOB)")

        class Sub(bytes):
            pass

        conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)", (None, None, None, b"\x00\xff", Sub(b"s"))
        )
        assert conn.execute("SELECT typeof(a), typeof(b), typeof(c), d, e FROM t").fetchone() == (
            "null",
            "null",
            "null",
            b"\x00\xff",
            b"s",
        )
    finally:
        store.close()


@pytest.mark.skipif(not _BEFORE_312, reason="registered on Python 3.11 only")
def test_adapters_registered_first_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def theirs(value: None) -> str:
        return "nothing"

    def their_bytes(value: bytes) -> str:
        return value.hex()

    monkeypatch.setitem(sqlite3.adapters, _KEY, theirs)
    monkeypatch.setitem(sqlite3.adapters, _BYTES, their_bytes)
    bind_directly()
    assert sqlite3.adapters[_KEY] is theirs and sqlite3.adapters[_BYTES] is their_bytes
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT ?, ?", (None, b"\x01")).fetchone() == ("nothing", "01")
    monkeypatch.delitem(sqlite3.adapters, _KEY)
    monkeypatch.delitem(sqlite3.adapters, _BYTES)
    bind_directly()
    assert sqlite3.adapters[_KEY] is _sqlite_writer._NULL and sqlite3.adapters[_BYTES] is bytes
