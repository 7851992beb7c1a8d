"""Bad input: a clear message for the user, and no other run or record harmed."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.cache_policies import INPUTS
from flowless.cli import main as cli
from flowless.exceptions import CorruptRecordError, StoreUnavailableError
from flowless.states import StateType
from flowless.store import CorruptRecord, FlowRunRecord, SQLiteStore, Store, TaskRunRecord

executed: list[str] = []


@task(cache_policy=INPUTS)
def make_lock(name: str) -> threading.Lock:
    executed.append(name)
    return threading.Lock()


@task
def use(lock: threading.Lock) -> bool:
    return isinstance(lock, type(threading.Lock()))


@task
def plain(x: int) -> int:
    return x + 1


@flow
def good_flow(x: int) -> int:
    return plain(x)


def _rows(db: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_unserializable_result_warns_and_continues(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = good_flow(1, return_state=True)

    @flow
    def f() -> bool:
        return use(make_lock("a"))

    state = f(return_state=True)
    assert state.result() is True  # passed on in memory, as Prefect does
    err = capsys.readouterr().err
    assert (
        "WARNING | Task run 'make_lock-" in err
        and "Encountered an error while persisting result: a value of type 'lock' cannot be "
        "serialized (TypeError: cannot pickle '_thread.lock' object). Execution will continue"
        in err
    )
    journal = [
        r
        for r in store.read_task_runs(state.state_details.flow_run_id)
        if isinstance(r, TaskRunRecord)
    ]
    assert [(r.task_name, r.state_name, r.result is None) for r in journal] == [
        ("make_lock", "Completed", True),
        ("use", "Completed", False),
    ]
    assert _rows(store.location, "SELECT count(*) FROM cache_entries") == [(0,)]
    f()
    assert executed == ["a", "a"]  # nothing unusable was cached
    assert store.read_flow_run(before.state_details.flow_run_id).state_name == "Completed"


def test_wrong_arguments_leave_other_runs_intact(store: Store) -> None:
    before = good_flow(1, return_state=True)
    snapshot = _rows(store.location, "SELECT * FROM flow_runs ORDER BY id")

    @flow
    def f() -> int:
        return plain(1, 2, 3)  # type: ignore[call-arg]

    state = f(return_state=True)
    assert "Error binding parameters for function 'plain': too many positional arguments" in (
        state.message or ""
    )
    after = _rows(
        store.location,
        f"SELECT * FROM flow_runs WHERE id != '{state.state_details.flow_run_id}' ORDER BY id",
    )
    assert after == snapshot
    assert store.read_flow_run(before.state_details.flow_run_id).state_name == "Completed"


def test_corrupt_flow_run_row(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    keep = good_flow(1, return_state=True).state_details.flow_run_id
    broken = good_flow(2, return_state=True).state_details.flow_run_id
    with sqlite3.connect(store.location) as conn:
        conn.execute(
            "UPDATE flow_runs SET state_type = 'EXPLODED', start_time = 'noon' WHERE id = ?",
            (broken,),
        )
    with pytest.raises(
        CorruptRecordError, match=f"Flow run '{broken}' in .* is corrupt: state_type is 'EXPLODED'"
    ):
        store.read_flow_run(broken)
    listed = store.list_flow_runs()
    assert {type(r) for r in listed} == {FlowRunRecord, CorruptRecord}
    assert [r.id for r in listed if isinstance(r, FlowRunRecord)] == [keep]
    assert cli(["flow-run", "ls"]) == 0
    out = capsys.readouterr().out
    assert "<corrupt>" in out and "state_type is 'EXPLODED'" in out
    assert good_flow(3) == 4  # the store keeps working


def test_corrupt_task_run_row_and_missing_result_file(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWLESS_RESULTS_INLINE_MAX_BYTES", "0")

    @flow
    def f() -> int:
        return plain(1) + plain(2)

    state = f(return_state=True)
    run_id = state.state_details.flow_run_id
    rows = _rows(
        store.location,
        "SELECT id, result_location FROM task_runs "
        f"WHERE flow_run_id = '{run_id}' ORDER BY dynamic_key",
    )
    with sqlite3.connect(store.location) as conn:
        conn.execute("UPDATE task_runs SET tags = '{oops' WHERE id = ?", (rows[0][0],))
    journal = store.read_task_runs(run_id)
    assert isinstance(journal[0], CorruptRecord) and isinstance(journal[1], TaskRunRecord)
    Path(
        str(
            _rows(store.location, f"SELECT result_location FROM flow_runs WHERE id = '{run_id}'")[
                0
            ][0]
        )
    ).unlink()
    capsys.readouterr()
    assert cli(["flow-run", "inspect", run_id]) == 0
    out = capsys.readouterr().out
    assert "<corrupt>" in out and "plain-" in out and "Result      <unreadable:" in out


def test_store_path_not_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FLOWLESS_HOME", str(blocker / "home"))
    ran: list[int] = []

    @flow
    def f() -> None:
        ran.append(1)

    with pytest.raises(
        StoreUnavailableError,
        match=r"Cannot create the flowless store directory .*Set FLOWLESS_HOME to a directory",
    ):
        f()
    assert ran == []
    assert blocker.read_text() == "not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_store_directory_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    monkeypatch.setenv("FLOWLESS_HOME", str(home))
    try:
        with pytest.raises(StoreUnavailableError, match="for writing"):
            good_flow(1)
    finally:
        home.chmod(0o700)


def test_store_file_not_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    garbage = b"this is not sqlite" * 100
    (home / "flowless.db").write_bytes(garbage)
    monkeypatch.setenv("FLOWLESS_HOME", str(home))
    with pytest.raises(
        StoreUnavailableError, match=r"is not a valid SQLite database .*Move the file aside"
    ):
        good_flow(1)
    assert (home / "flowless.db").read_bytes() == garbage  # untouched
    assert cli(["flow-run", "ls"]) == 1


def test_store_error_message_for_locked_write(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    store.close()
    from flowless.exceptions import StoreError

    with pytest.raises(StoreError, match="failed to list flow runs"):
        store.list_flow_runs()


def test_result_with_lone_surrogate_is_stored_exactly(store: Store) -> None:
    @task
    def filename() -> str:
        return "report-\udcff.csv"  # as os.listdir returns undecodable names

    @flow
    def f() -> str:
        return filename()

    state = f(return_state=True)
    assert state.result() == "report-\udcff.csv"
    [record] = store.read_task_runs(state.state_details.flow_run_id)
    assert isinstance(record, TaskRunRecord) and record.state_name == "Completed"
    assert record.result is not None and record.result.serializer == "pickle"


def test_result_file_that_cannot_be_written_fails_the_task_run(
    store: Store,
    flowless_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A result the store does not hold is never reported as persisted (issue 9): the
    task run crashes saying why, and the flow sees its error."""
    monkeypatch.setenv("FLOWLESS_RESULTS_INLINE_MAX_BYTES", "10")
    (flowless_home / "results").write_text("a file where the results directory should be")

    @task
    def big() -> str:
        return "x" * 1000

    @flow
    def f() -> int:
        return len(big())

    state = f(return_state=True)
    assert state.type is StateType.FAILED
    assert "Cannot write result file" in capsys.readouterr().err
    [record] = store.read_task_runs(state.state_details.flow_run_id)
    assert isinstance(record, TaskRunRecord) and record.state_name == "Crashed"
    assert "Cannot write result file" in (record.state_message or "")


def test_corrupt_cache_row_is_a_miss(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    executed.clear()

    @flow
    def f() -> None:
        make_lock_free("k")

    f()
    with sqlite3.connect(store.location) as conn:
        conn.execute("UPDATE cache_entries SET created = 'garbage'")
    f()
    assert executed == ["k", "k"]
    assert "The cached result cannot be read" in capsys.readouterr().err
    f()
    assert executed == ["k", "k"]  # replaced by a good entry


@task(cache_policy=INPUTS)
def make_lock_free(name: str) -> str:
    executed.append(name)
    return name


def test_store_directory_not_writable_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permission bits do not stop root, so the refusal is simulated where it happens."""
    home = tmp_path / "locked"
    monkeypatch.setenv("FLOWLESS_HOME", str(home))
    real_mkdir = Path.mkdir

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        if self == home:
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(
        StoreUnavailableError,
        match=r"Cannot create the flowless store directory .*: Permission denied\. Set FLOWLESS",
    ):
        good_flow(1)
