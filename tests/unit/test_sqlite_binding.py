"""None binds as NULL through the adapter the store registers (``bind_none_directly``),
without replacing an adapter someone registered first."""

from __future__ import annotations

import sqlite3

import pytest

from flowless.store import _sqlite_writer
from flowless.store._sqlite_writer import bind_none_directly

_KEY = (type(None), sqlite3.PrepareProtocol)


def test_none_is_bound_by_the_registered_adapter_as_null() -> None:
    assert sqlite3.adapters[_KEY] is _sqlite_writer._NULL
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT, b BLOB, c REAL)")
    conn.execute("INSERT INTO t VALUES (?, ?, ?)", (None, None, None))
    assert conn.execute("SELECT typeof(a), typeof(b), typeof(c) FROM t").fetchone() == (
        "null",
        "null",
        "null",
    )
    assert conn.execute("SELECT count(*) FROM t WHERE a IS NULL").fetchone() == (1,)


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
