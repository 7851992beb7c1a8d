"""Task-run ids: deterministic (the journal), ordered by call within a task (every index
ordered by id takes a batch of new task runs in a few pages), and the older all-hash ids
kept by runs stored with them."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from pathlib import Path

from flowless.engine._names import task_run_display_name, task_run_id


def _all_hash(flow_run_id: str, task_key: str, dynamic_key: int) -> str:
    """The ids of runs stored before ordered ids, written out independently."""
    h = hashlib.blake2b(f"{flow_run_id}\x1f{task_key}\x1f{dynamic_key}".encode(), digest_size=16)
    text = h.hexdigest()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def test_calls_of_one_task_share_a_prefix_and_sort_as_they_were_made() -> None:
    ids = [task_run_id("run-1", "pipeline.fetch", n) for n in range(300)]
    assert len(set(ids)) == 300
    assert sorted(ids) == ids
    assert {i[:8] for i in ids} == {ids[0][:8]}
    assert ids[0][9:18] == "0000-0000" and ids[299][9:18] == "0000-012b"
    assert all(uuid.UUID(i) for i in ids)  # still shaped as a UUID
    # another task, another run: another prefix
    assert task_run_id("run-1", "pipeline.load", 0)[:8] != ids[0][:8]
    assert task_run_id("run-2", "pipeline.fetch", 0)[:8] != ids[0][:8]


def test_display_names_come_from_the_calls_own_hash() -> None:
    names = {task_run_display_name("fetch", task_run_id("run-1", "k", n)) for n in range(50)}
    assert len(names) > 40  # three hex digits each: a few may collide, as in Prefect
    assert all(name.startswith("fetch-") and len(name) == 9 for name in names)


def test_the_older_ids_and_past_two_to_the_32_calls() -> None:
    assert task_run_id("run-1", "k", 7, legacy=True) == _all_hash("run-1", "k", 7)
    assert task_run_id("run-1", "k", 7) != _all_hash("run-1", "k", 7)
    beyond = 2**32
    assert task_run_id("run-1", "k", beyond) == _all_hash("run-1", "k", beyond)
    assert task_run_id("run-1", "k", beyond - 1)[9:18] == "ffff-ffff"


def test_a_batch_of_new_task_runs_writes_a_few_pages_of_the_id_index(tmp_path: Path) -> None:
    """What the ordering buys: 128 new task runs of one task land in a few pages of an id
    index holding 20,000 other runs; all-hash ids took a page each (and a frame of the
    WAL each, which a checkpoint copies and fsyncs)."""
    conn = sqlite3.connect(tmp_path / "ids.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO t VALUES (?)", [(_all_hash("old", "k", n),) for n in range(20_000)]
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    frames = {}
    for kind, make in (("ordered", task_run_id), ("all-hash", _all_hash)):
        ids = [make(f"run-{kind}", "k", n) for n in range(128)]
        conn.execute("INSERT INTO t VALUES " + ", ".join(["(?)"] * 128), ids)
        _busy, frames[kind], _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert frames["ordered"] <= 16, frames  # the rows themselves, and one place in the index
    assert frames["all-hash"] >= 60, frames
