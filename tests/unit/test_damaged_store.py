"""A store file with damaged pages is refused when it is opened, before anything is
written to it, with the message that says what to do; a healthy one is not re-checked
on every open."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowless.exceptions import StoreUnavailableError
from flowless.store import SQLiteStore
from flowless.store._sqlite_open import check_once

FLOW = textwrap.dedent(
    """
    import sys
    from flowless import flow, task

    @task
    def step(i):
        return "row %d " % i + "x" * 200

    @flow
    def many(n: int):
        for i in range(n):
            step(i)
        return n

    print("RESULT", many(int(sys.argv[1])))
    """
)


def _run(home: Path, tmp_path: Path, n: int) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "many.py"
    script.write_text(FLOW)
    return subprocess.run(
        [sys.executable, str(script), str(n)],
        env={**os.environ, "FLOWLESS_HOME": str(home), "FLOWLESS_LOGGING_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _damage_a_page(db: Path) -> None:
    """Overwrite one leaf page of the task runs table (from the middle) with garbage."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'task_runs' AND pagetype = 'leaf' "
                "ORDER BY pageno"
            )
        ]
    assert len(leaves) > 2
    with db.open("r+b") as fh:
        fh.seek(page_size * (leaves[len(leaves) // 2] - 1))
        fh.write(b"\xde\xad\xbe\xef" * (page_size // 4))


def test_a_page_damaged_store_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _run(home, tmp_path, 500).returncode == 0
    db = home / "flowless.db"
    assert (home / "flowless.db-checked").exists()  # closed cleanly: no check next time
    _damage_a_page(db)
    damaged = db.read_bytes()

    again = _run(home, tmp_path, 10)
    assert again.returncode != 0
    assert "is not a valid SQLite database (database disk image is malformed" in again.stderr
    assert "Move the file aside to start a fresh store" in again.stderr
    assert "Traceback" not in again.stderr.split("StoreUnavailableError")[-1]
    assert db.read_bytes() == damaged  # not one byte written
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_a_damaged_store_found_while_running_is_not_written_to_again(tmp_path: Path) -> None:
    """Damage that keeps the file's size and time (not caught at open) is caught at the
    first read of the page: flowless names it and writes nothing more."""
    db = tmp_path / "flowless.db"
    store = SQLiteStore(db)
    store.close()
    _run(tmp_path, tmp_path, 500)
    stat = db.stat()
    _damage_a_page(db)
    os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    store = SQLiteStore(db)  # the marker matches: opened without a full check
    try:
        [run] = store.list_flow_runs()
        with pytest.raises(StoreUnavailableError, match=r"is damaged .*Move the file aside"):
            store.read_task_runs(run.id)  # type: ignore[union-attr]
        before = db.read_bytes()
        with pytest.raises(StoreUnavailableError, match="is damaged"):
            store._execute("x", "INSERT INTO meta (key, value) VALUES ('a', 'b')")
    finally:
        store.close()
    assert db.read_bytes() == before


def test_a_healthy_store_closed_cleanly_is_not_checked_again(tmp_path: Path) -> None:
    db = tmp_path / "flowless.db"
    SQLiteStore(db).close()
    conn = sqlite3.connect(db)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    check_once(conn, db)
    assert not any("quick_check" in s for s in seen)
    (tmp_path / "flowless.db-checked").unlink()
    check_once(conn, db)
    assert any("quick_check" in s for s in seen)
    conn.close()
