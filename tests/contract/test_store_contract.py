"""The Store contract: every backend must pass this file unchanged.

Add a backend by adding a parameter to the ``backend`` fixture (conftest.py).
"""

from __future__ import annotations

import threading
import time

import pytest

from flowless.exceptions import RecordConflictError, RecordExistsError, RecordNotFoundError
from flowless.states import StateType
from flowless.store import (
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    LogLine,
    Payload,
    Store,
    TaskRunRecord,
)


def flow_run(id: str = "fr-1", created: float = 1000.0, **changes: object) -> FlowRunRecord:
    record = FlowRunRecord(
        id=id,
        name=f"name-{id}",
        flow_name="show-stars",
        state_type=StateType.RUNNING,
        state_name="Running",
        created=created,
        start_time=created,
        run_count=1,
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def task_run(
    id: str = "tr-1",
    flow_run_id: str = "fr-1",
    dynamic_key: int = 0,
    state: StateType = StateType.RUNNING,
    **changes: object,
) -> TaskRunRecord:
    record = TaskRunRecord(
        id=id,
        flow_run_id=flow_run_id,
        task_key="pkg.fetch_stats",
        dynamic_key=dynamic_key,
        name=f"fetch_stats-{id[-3:]}",
        task_name="fetch_stats",
        state_type=state,
        state_name=state.value.title(),
        run_count=1,
        start_time=1000.0 + dynamic_key,
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


# -- flow runs -----------------------------------------------------------------------------


def test_flow_run_round_trip(backend: Store) -> None:
    record = flow_run(
        parameters=Payload("json", b'{"repos":["a"]}'),
        parent_flow_run_id="parent",
        parent_task_run_id="entry",
        tags=["etl", "daily"],
        result=Payload("pickle", None, "/results/abc.pickle"),
        state_message="why",
    )
    backend.create_flow_run(record)
    assert backend.read_flow_run("fr-1") == record


def test_flow_run_create_is_conditional(backend: Store) -> None:
    backend.create_flow_run(flow_run())
    with pytest.raises(RecordExistsError, match="fr-1"):
        backend.create_flow_run(flow_run(name="imposter"))
    assert backend.read_flow_run("fr-1").name == "name-fr-1"


def test_flow_run_update(backend: Store) -> None:
    backend.create_flow_run(flow_run())
    done = flow_run(
        state_type=StateType.COMPLETED,
        state_name="Completed",
        end_time=1001.5,
        result=Payload("json", b"3"),
    )
    backend.update_flow_run(done)
    assert backend.read_flow_run("fr-1") == done


def test_flow_run_update_is_conditional_on_version(backend: Store) -> None:
    backend.create_flow_run(flow_run())
    mine = backend.read_flow_run("fr-1")
    theirs = backend.read_flow_run("fr-1")
    mine.state_name = "Resumed by me"
    backend.update_flow_run(mine)
    assert mine.version == 1
    theirs.state_name = "Resumed by them"
    with pytest.raises(RecordConflictError, match="fr-1"):
        backend.update_flow_run(theirs)
    assert backend.read_flow_run("fr-1").state_name == "Resumed by me"
    mine.state_name = "Finished by me"
    backend.update_flow_run(mine)  # the winner goes on updating
    assert backend.read_flow_run("fr-1").version == 2


def test_missing_flow_run(backend: Store) -> None:
    with pytest.raises(RecordNotFoundError, match="nope"):
        backend.read_flow_run("nope")
    with pytest.raises(RecordNotFoundError, match="nope"):
        backend.update_flow_run(flow_run(id="nope"))


def test_list_flow_runs_newest_first(backend: Store) -> None:
    for i in range(5):
        backend.create_flow_run(flow_run(id=f"fr-{i}", created=1000.0 + i))
    backend.create_flow_run(flow_run(id="other", created=2000.0, flow_name="other-flow"))
    listed = backend.list_flow_runs(limit=3)
    assert [r.id for r in listed if isinstance(r, FlowRunRecord)] == ["other", "fr-4", "fr-3"]
    only = backend.list_flow_runs(limit=10, flow_name="show-stars")
    assert [r.id for r in only if isinstance(r, FlowRunRecord)] == [
        f"fr-{i}" for i in (4, 3, 2, 1, 0)
    ]
    assert not any(isinstance(r, CorruptRecord) for r in listed)


# -- task runs (the journal) ---------------------------------------------------------------


def test_task_run_lifecycle(backend: Store) -> None:
    backend.start_task_run(task_run())
    [running] = backend.read_task_runs("fr-1")
    assert isinstance(running, TaskRunRecord) and running.state_type is StateType.RUNNING
    done = task_run(
        state=StateType.COMPLETED,
        result=Payload("json", b"42"),
        end_time=1002.0,
        cache_key="k",
        tags=["t"],
    )
    assert backend.finish_task_run(done) == done
    assert backend.read_task_runs("fr-1") == [done]


def test_task_run_inputs_round_trip(backend: Store) -> None:
    inputs = {
        "n": "42",
        "text": "'caf\u00e9 \\ \"quoted\"\\n'",
        "rows": "[{'a': 1}, {'a': 2}, ...]",
        "...": "3 more argument(s) not shown",
    }
    backend.start_task_run(task_run(inputs=inputs))
    [running] = backend.read_task_runs("fr-1")
    assert isinstance(running, TaskRunRecord) and running.inputs == inputs
    done = task_run(state=StateType.COMPLETED, result=Payload("json", b"1"), inputs=inputs)
    assert backend.finish_task_run(done) == done
    assert backend.read_task_runs("fr-1") == [done]
    # a later end, refused, answers with the stored run: its inputs included
    assert backend.finish_task_run(task_run(state=StateType.COMPLETED, inputs={})).inputs == inputs
    backend.finish_task_run(task_run(id="tr-2", dynamic_key=1, inputs={}))  # no parameters
    backend.finish_task_run(task_run(id="tr-3", dynamic_key=2))  # not known: None
    by_id = {r.id: r for r in backend.read_task_runs("fr-1") if isinstance(r, TaskRunRecord)}
    assert by_id["tr-2"].inputs == {}
    assert by_id["tr-3"].inputs is None


def test_journal_is_per_flow_run_in_call_order(backend: Store) -> None:
    for i in (2, 0, 1):
        backend.finish_task_run(task_run(id=f"tr-{i}", dynamic_key=i, state=StateType.COMPLETED))
    backend.finish_task_run(task_run(id="elsewhere", flow_run_id="fr-2", state=StateType.COMPLETED))
    journal = backend.read_task_runs("fr-1")
    assert [r.dynamic_key for r in journal if isinstance(r, TaskRunRecord)] == [0, 1, 2]
    assert backend.read_task_runs("fr-unknown") == []


def test_completion_is_written_once(backend: Store) -> None:
    first = task_run(state=StateType.COMPLETED, result=Payload("json", b"1"))
    second = task_run(state=StateType.COMPLETED, result=Payload("json", b"2"))
    assert backend.finish_task_run(first) == first
    winner = backend.finish_task_run(second)
    assert winner == first
    failed_late = task_run(state=StateType.FAILED, state_message="late failure")
    assert backend.finish_task_run(failed_late) == first
    backend.start_task_run(task_run())  # a late start does not reopen it either
    assert backend.read_task_runs("fr-1") == [first]


def test_failed_task_run_can_run_again(backend: Store) -> None:
    backend.finish_task_run(task_run(state=StateType.FAILED, state_message="boom"))
    backend.start_task_run(task_run(run_count=2))
    retried = task_run(state=StateType.COMPLETED, run_count=2, result=Payload("json", b"ok"))
    assert backend.finish_task_run(retried) == retried
    assert backend.read_task_runs("fr-1") == [retried]


def test_concurrent_completions_have_one_winner(backend: Store) -> None:
    barrier = threading.Barrier(8)
    winners: list[TaskRunRecord] = []

    def complete(i: int) -> None:
        barrier.wait()
        record = task_run(state=StateType.COMPLETED, result=Payload("json", str(i).encode()))
        winners.append(backend.finish_task_run(record))

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({w.result.data for w in winners if w.result}) == 1
    [stored] = backend.read_task_runs("fr-1")
    assert isinstance(stored, TaskRunRecord) and stored.result == winners[0].result


def test_task_run_without_flow_run(backend: Store) -> None:
    record = task_run(id="solo", flow_run_id=None, state=StateType.COMPLETED)  # type: ignore[arg-type]
    assert backend.finish_task_run(record) == record


# -- cache ---------------------------------------------------------------------------------


def test_cache_round_trip_and_overwrite(backend: Store) -> None:
    assert backend.read_cache_entry("k", now=0) is None
    entry = CacheEntry("k", Payload("json", b"1"), created=10.0, expires=None)
    backend.write_cache_entry(entry)
    assert backend.read_cache_entry("k", now=1e12) == entry
    newer = CacheEntry("k", Payload("pickle", None, "/r/x"), created=20.0, expires=100.0)
    backend.write_cache_entry(newer)
    assert backend.read_cache_entry("k", now=50.0) == newer


def test_expired_cache_entry_is_absent(backend: Store) -> None:
    backend.write_cache_entry(CacheEntry("k", Payload("json", b"1"), created=0.0, expires=100.0))
    assert backend.read_cache_entry("k", now=99.9) is not None
    assert backend.read_cache_entry("k", now=100.0) is None
    assert backend.read_cache_entry("k", now=time.time()) is None


def test_list_flow_runs_filters_by_state_and_deployment(backend: Store) -> None:
    backend.create_flow_run(flow_run("fr-1", 1.0))
    backend.create_flow_run(flow_run("fr-2", 2.0, state_type=StateType.FAILED, state_name="Failed"))
    backend.create_flow_run(flow_run("fr-3", 3.0, deployment_name="show-stars/nightly"))
    backend.create_flow_run(flow_run("fr-4", 4.0, flow_name="other"))
    failed = backend.list_flow_runs(state=StateType.FAILED)
    assert [r.id for r in failed if isinstance(r, FlowRunRecord)] == ["fr-2"]
    running = backend.list_flow_runs(state=StateType.RUNNING, flow_name="show-stars")
    assert [r.id for r in running if isinstance(r, FlowRunRecord)] == ["fr-3", "fr-1"]
    nightly = backend.list_flow_runs(deployment="show-stars/nightly")
    assert [r.id for r in nightly if isinstance(r, FlowRunRecord)] == ["fr-3"]
    assert backend.list_flow_runs(state=StateType.COMPLETED) == []
    assert len(backend.list_flow_runs(limit=1, state=StateType.RUNNING)) == 1


def test_match_flow_runs_by_name_or_id_prefix(backend: Store) -> None:
    backend.create_flow_run(flow_run("abc-1", 1.0, name="nightly"))
    backend.create_flow_run(flow_run("abd-2", 2.0, name="nightly"))
    backend.create_flow_run(flow_run("xyz-3", 3.0, name="ab"))
    backend.create_flow_run(flow_run("a%c-4", 4.0))

    def ids(ref: str) -> list[str]:
        return [r.id for r in backend.match_flow_runs(ref) if isinstance(r, FlowRunRecord)]

    assert ids("nightly") == ["abd-2", "abc-1"]
    assert ids("ab") == ["xyz-3", "abd-2", "abc-1"]  # its name, then the prefixes
    assert ids("abc") == ["abc-1"]
    assert ids("a%") == ["a%c-4"]  # no wildcards: only ids that start with "a%"
    assert ids("nope") == []


def test_delete_flow_run_removes_it_and_its_task_runs(backend: Store) -> None:
    backend.create_flow_run(flow_run("fr-1", 1.0))
    backend.create_flow_run(flow_run("fr-2", 2.0))
    for n in range(30):  # more than one DynamoDB batch
        backend.finish_task_run(task_run(f"tr-{n:03}", "fr-1", n, StateType.COMPLETED))
    backend.finish_task_run(task_run("other", "fr-2", 0, StateType.COMPLETED))
    backend.flush()
    assert backend.delete_flow_run("fr-1") == 30
    with pytest.raises(RecordNotFoundError, match="fr-1"):
        backend.read_flow_run("fr-1")
    assert backend.read_task_runs("fr-1") == []
    assert [r.id for r in backend.list_flow_runs() if isinstance(r, FlowRunRecord)] == ["fr-2"]
    assert len(backend.read_task_runs("fr-2")) == 1
    with pytest.raises(RecordNotFoundError, match="'fr-1' not found"):
        backend.delete_flow_run("fr-1")


def test_cancel_flow_run_marks_a_live_run_cancelling(backend: Store) -> None:
    backend.create_flow_run(flow_run("fr-1", state_message="working"))
    assert backend.cancel_flow_run("fr-1") is True
    stored = backend.read_flow_run("fr-1")
    assert (stored.state_type, stored.state_name, stored.state_message) == (
        StateType.CANCELLING,
        "Cancelling",
        None,
    )
    assert stored.version == 1  # a change: a stale writer of the run is refused
    assert backend.cancel_flow_run("fr-1") is False  # asked twice: nothing more changes
    assert backend.read_flow_run("fr-1") == stored


def test_cancel_flow_run_ends_a_scheduled_run_at_once(backend: Store) -> None:
    """No process runs a Scheduled run yet: it is Cancelled at once (a Cancelling mark
    would stay forever), and its bumped version makes a starter's claim of it fail."""
    backend.create_flow_run(
        flow_run("fr-1", state_type=StateType.SCHEDULED, state_name="Scheduled")
    )
    assert backend.cancel_flow_run("fr-1") is True
    stored = backend.read_flow_run("fr-1")
    assert (stored.state_type, stored.state_name, stored.version) == (
        StateType.CANCELLED,
        "Cancelled",
        1,
    )
    assert stored.end_time is not None
    assert backend.cancel_flow_run("fr-1") is False  # final now


def test_cancel_flow_run_refuses_a_final_run(backend: Store) -> None:
    done = flow_run("fr-1", state_type=StateType.COMPLETED, state_name="Completed")
    backend.create_flow_run(done)
    assert backend.cancel_flow_run("fr-1") is False
    assert backend.read_flow_run("fr-1") == done
    with pytest.raises(RecordNotFoundError, match="'nope' not found"):
        backend.cancel_flow_run("nope")


def log_line(n: int, flow_run_id: str = "fr-1", task_run_id: str | None = None) -> LogLine:
    return LogLine(
        id=f"{1000 + n:020d}-00000001-{n:012x}",
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
        run_name="fetch_stats-001" if task_run_id else "name-fr-1",
        time=1000.0 + n / 1000,
        level=40 if n % 10 == 9 else 20,
        logger="flowless.task_runs" if task_run_id else "flowless.flow_runs",
        message=f"line {n}: \u00e9t\u00e9 \U0001f600",
    )


def test_log_lines_come_back_in_order_per_run_and_after_a_line(backend: Store) -> None:
    backend.create_flow_run(flow_run())
    backend.create_flow_run(flow_run("fr-2", created=1001.0))
    backend.start_task_run(task_run())
    lines = [log_line(n, task_run_id="tr-1" if n % 2 else None) for n in range(60)]
    for line in reversed(lines):  # written in any order (batches): read back in id order
        backend.write_log(line)
    backend.write_log(log_line(7, flow_run_id="fr-2"))
    backend.flush()
    assert backend.read_logs("fr-1") == lines
    assert backend.read_logs("fr-1", after=lines[49].id) == lines[50:]
    assert backend.read_logs("fr-1", after=lines[-1].id) == []
    assert backend.read_logs("fr-2") == [log_line(7, flow_run_id="fr-2")]
    assert backend.read_logs("nope") == []
    # the task runs beside the lines are untouched by them, and the other way round
    assert [t.id for t in backend.read_task_runs("fr-1")] == ["tr-1"]  # type: ignore[union-attr]


def test_a_line_written_twice_is_kept_once(backend: Store) -> None:
    backend.create_flow_run(flow_run())
    backend.write_log(log_line(1))
    backend.write_log(log_line(1))
    backend.flush()
    assert backend.read_logs("fr-1") == [log_line(1)]


def test_deleting_a_flow_run_deletes_its_lines_and_counts_only_task_runs(backend: Store) -> None:
    backend.create_flow_run(flow_run())
    backend.create_flow_run(flow_run("fr-2", created=1001.0))
    backend.start_task_run(task_run())
    for n in range(30):
        backend.write_log(log_line(n))
    backend.write_log(log_line(3, flow_run_id="fr-2"))
    backend.flush()
    assert backend.delete_flow_run("fr-1") == 1
    assert backend.read_logs("fr-1") == []
    assert backend.read_logs("fr-2") == [log_line(3, flow_run_id="fr-2")]
