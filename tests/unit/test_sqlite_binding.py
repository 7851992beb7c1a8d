"""None binds as NULL through the adapter the store registers on Python 3.11
(``bind_none_directly``), once it opens a connection that writes, without replacing an
adapter someone registered first."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from flowless.store import SQLiteStore, _sqlite_writer
from flowless.store._sqlite_writer import bind_none_directly

_KEY = (type(None), sqlite3.PrepareProtocol)
_BEFORE_312 = sys.version_info < (3, 12)


def test_none_is_bound_as_null_once_a_store_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sqlite3.adapters, _KEY, raising=False)
    import flowless  # noqa: F401 - importing registers nothing

    assert _KEY not in sqlite3.adapters
    store = SQLiteStore(tmp_path / "s.db")
    try:
        if _BEFORE_312:
            assert sqlite3.adapters[_KEY] is _sqlite_writer._NULL
        else:  # 3.12 binds None without raising: nothing to gain
            assert _KEY not in sqlite3.adapters
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (a TEXT, b BLOB, c REAL)")
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", (None, None, None))
        assert conn.execute("SELECT typeof(a), typeof(b), typeof(c) FROM t").fetchone() == (
            "null",
            "null",
            "null",
        )
    finally:
        store.close()


@pytest.mark.skipif(not _BEFORE_312, reason="registered on Python 3.11 only")
def test_an_adapter_for_none_registered_first_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def theirs(value: None) -> str:
        return "nothing"

    monkeypatch.setitem(sqlite3.adapters, _KEY, theirs)
    bind_none_directly()
    assert sqlite3.adapters[_KEY] is theirs
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT ?", (None,)).fetchone() == ("nothing",)
    monkeypatch.delitem(sqlite3.adapters, _KEY)
    bind_none_directly()
    assert sqlite3.adapters[_KEY] is _sqlite_writer._NULL
