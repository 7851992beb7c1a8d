"""Caching: Prefect's policies, persisted across processes, scoped by task, expiring."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.cache_policies import INPUTS, NO_CACHE, RUN_ID, TASK_SOURCE
from flowless.store import Store
from flowless.tasks import task_input_hash
from tests.conftest import log_lines

calls: list[str] = []


@task(cache_policy=INPUTS, cache_expiration=timedelta(days=1))
def fetch(repo: str) -> dict[str, object]:
    calls.append(repo)
    return {"repo": repo, "stars": len(repo)}


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def test_second_run_hits_cache(capsys: pytest.CaptureFixture[str], store: Store) -> None:
    @flow
    def f(repos: list[str]) -> list[dict[str, object]]:
        return [fetch(r) for r in repos]

    first = f(["a/b", "c/d"])
    capsys.readouterr()
    state = f(["a/b", "c/d"], return_state=True)
    assert state.result() == first
    assert calls == ["a/b", "c/d"]
    lines = [line for line in log_lines(capsys.readouterr().err) if "Task run" in line]
    assert len(lines) == 2
    assert all(line.endswith("Finished in state Cached(type=COMPLETED)") for line in lines)
    journal = store.read_task_runs(state.state_details.flow_run_id)
    assert [r.state_name for r in journal] == ["Cached", "Cached"]  # type: ignore[union-attr]


def test_cache_persists_across_processes(flowless_home: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from flowless import flow, task
        from flowless.cache_policies import INPUTS

        @task(cache_policy=INPUTS)
        def fetch(x):
            print("EXECUTED", x)
            return x * 2

        @flow
        def pipeline():
            return [fetch(1), fetch(2)]

        print(pipeline())
        """
    )
    path = flowless_home.parent / "pipeline.py"
    path.write_text(script)
    env = {**os.environ, "FLOWLESS_HOME": str(flowless_home)}
    runs = [
        subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    assert runs[0].stdout.count("EXECUTED") == 2
    assert runs[1].stdout.count("EXECUTED") == 0
    assert runs[1].stdout.strip().endswith("[2, 4]")
    assert runs[1].stderr.count("Finished in state Cached(type=COMPLETED)") == 2


def test_inputs_alone_never_shares_between_tasks() -> None:
    @task(cache_policy=INPUTS)
    def double(x: int) -> int:
        return x * 2

    @task(cache_policy=INPUTS)
    def triple(x: int) -> int:
        return x * 3

    @flow
    def f() -> tuple[int, int]:
        return double(5), triple(5)

    assert f() == (10, 15)
    assert f() == (10, 15)


def test_expiration(capsys: pytest.CaptureFixture[str]) -> None:
    """An entry is used until it expires, then the task runs again. The margins are wide
    on purpose: a slow machine must not turn a hit into a miss or the other way round."""
    lasting = fetch.with_options(cache_expiration=timedelta(hours=1))
    fleeting = fetch.with_options(cache_expiration=timedelta(milliseconds=1))

    @flow
    def f() -> None:
        lasting("kept")
        fleeting("gone")

    f()
    time.sleep(0.05)  # long past the 1 ms expiry, however slow the machine
    f()
    assert calls == ["kept", "gone", "gone"]


def test_refresh_cache_rewrites() -> None:
    counter = {"n": 0}

    @task(cache_policy=INPUTS)
    def value(x: int) -> int:
        counter["n"] += 1
        return counter["n"]

    @flow
    def f(refresh: bool) -> int:
        return value.with_options(refresh_cache=refresh)(1)

    assert f(False) == 1
    assert f(False) == 1
    assert f(True) == 2  # ran again and replaced the entry
    assert f(False) == 2


def test_cache_key_fn_task_input_hash() -> None:
    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
    def query(date: str) -> str:
        calls.append(date)
        return date.upper()

    @flow
    def f() -> list[str]:
        return [query("a"), query("a"), query("b")]

    assert f() == ["A", "A", "B"]
    assert calls == ["a", "b"]


def test_run_id_policy_only_within_a_run() -> None:
    @task(cache_policy=INPUTS + RUN_ID)
    def per_run(x: int) -> int:
        calls.append(str(x))
        return x

    @flow
    def f() -> None:
        per_run(1)
        per_run(1)

    f()
    f()
    assert calls == ["1", "1"]


def test_task_source_policy() -> None:
    @task(cache_policy=TASK_SOURCE + INPUTS)
    def t(x: int) -> int:
        calls.append("t")
        return x

    @flow
    def f() -> None:
        t(1)

    f()
    f()
    assert calls == ["t"]


def test_uncomputable_key_warns_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    @task(cache_policy=INPUTS)
    def uses_lock(lock: object) -> str:
        return "ran"

    @flow
    def f() -> str:
        return uses_lock(threading.Lock())

    assert f() == "ran"
    assert f() == "ran"
    err = capsys.readouterr().err
    assert "Error encountered when computing cache key - result will not be persisted." in err


def test_corrupt_cache_entry_is_replaced(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> dict[str, object]:
        return fetch("a/b")

    f()
    db = Path(store.location)
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE cache_entries SET result = x'00ff00'")
    assert f() == {"repo": "a/b", "stars": 3}
    assert "The cached result cannot be read (stored json data cannot be decoded" in (
        capsys.readouterr().err
    )
    assert calls == ["a/b", "a/b"]
    assert f() == {"repo": "a/b", "stars": 3}
    assert calls == ["a/b", "a/b"]  # the rewritten entry is good again


def test_sets_in_inputs_hit_across_processes_with_different_hash_seeds(
    flowless_home: Path,
) -> None:
    script = textwrap.dedent(
        """
        from flowless import flow, task
        from flowless.cache_policies import INPUTS

        @task(cache_policy=INPUTS)
        def count(tags: set, pairs: dict):
            print("EXECUTED")
            return len(tags) + len(pairs)

        @flow
        def pipeline():
            return count({"a", "b", "c", "d"}, {1: "x", "y": frozenset({"p", "q"})})

        print(pipeline())
        """
    )
    path = flowless_home.parent / "sets.py"
    path.write_text(script)
    outputs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "FLOWLESS_HOME": str(flowless_home), "PYTHONHASHSEED": seed}
        outputs.append(
            subprocess.run(
                [sys.executable, str(path)], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert [o.count("EXECUTED") for o in outputs] == [1, 0, 0]


# persist_result=True: Prefect 3.4.25 gives a task without a cache policy its DEFAULT policy
# (inputs + source + flow run id) once its result is persisted. The expected values and
# calls below are what real Prefect 3.4.25 printed for the same tasks and flows.


@task(persist_result=True)
def persisted(x: int) -> int:
    calls.append(f"persisted {x}")
    return x * 2


@task
def plain(x: int) -> int:
    calls.append(f"plain {x}")
    return x + 1


@task(persist_result=True, cache_policy=NO_CACHE)
def persisted_no_cache(x: int) -> int:
    calls.append(f"no_cache {x}")
    return x


@task(persist_result=False)
def not_persisted(x: int) -> int:
    calls.append(f"not_persisted {x}")
    return x


def test_persist_result_caches_within_a_flow_run(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> list[object]:
        return [
            persisted(1),
            persisted(1),
            persisted(2),
            persisted.submit(1).result(),
            str(persisted(1, return_state=True)),
            plain(1),
            plain(1),
            persisted_no_cache(1),
            persisted_no_cache(1),
        ]

    assert f() == [2, 2, 4, 2, "Cached(type=COMPLETED)", 2, 2, 1, 1]
    assert calls == ["persisted 1", "persisted 2", "plain 1", "plain 1", "no_cache 1", "no_cache 1"]
    states = [
        line.rsplit(" - Finished in state ", 1)[1]
        for line in log_lines(capsys.readouterr().err)
        if "Task run 'persisted-" in line
    ]
    assert (
        states
        == ["Completed()"]
        + ["Cached(type=COMPLETED)"]
        + ["Completed()"]
        + ["Cached(type=COMPLETED)"] * 2
    )

    calls.clear()
    assert f() == [2, 2, 4, 2, "Cached(type=COMPLETED)", 2, 2, 1, 1]  # a new flow run id
    assert calls == ["persisted 1", "persisted 2", "plain 1", "plain 1", "no_cache 1", "no_cache 1"]


def test_persist_result_on_the_flow_caches_its_tasks_and_subflows() -> None:
    @flow
    def sub() -> list[int]:
        return [plain(7), plain(7)]

    @flow(persist_result=False)
    def sub_off() -> list[int]:
        return [plain(9), plain(9)]

    @flow(persist_result=True)
    def f() -> list[object]:
        first = [plain(5), plain(5), not_persisted(5), not_persisted(5)]
        return [*first, str(plain(5, return_state=True)), sub(), sub_off()]

    @flow
    def outer_plain() -> list[int]:
        return [plain(8), plain(8)]

    assert f() == [6, 6, 5, 5, "Cached(type=COMPLETED)", [8, 8], [10, 10]]
    assert calls == [
        "plain 5",
        "not_persisted 5",
        "not_persisted 5",
        "plain 7",
        "plain 9",
        "plain 9",
    ]
    calls.clear()
    assert outer_plain() == [9, 9]
    assert calls == ["plain 8", "plain 8"]


def test_persist_result_outside_a_flow_never_hits() -> None:
    assert (persisted(3), persisted(3)) == (6, 6)
    assert calls == ["persisted 3", "persisted 3"]  # each task run has its own run id


def test_persist_result_with_unhashable_inputs_runs_uncached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @task(persist_result=True)
    def uses_lock(lock: object) -> int:
        calls.append("ran")
        return 1

    @flow
    def f() -> list[int]:
        return [uses_lock(threading.Lock()), uses_lock(threading.Lock())]

    assert f() == [1, 1]
    assert calls == ["ran", "ran"]
    errors = [line for line in log_lines(capsys.readouterr().err) if line.startswith("ERROR")]
    assert len(errors) == 2
    assert all(
        "Error encountered when computing cache key - result will not be persisted." in line
        for line in errors
    )


def test_without_persistence_a_task_reads_no_cache(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    read = store.read_cache_entry

    def spy(key: str, now: float) -> object:
        reads.append(key)
        return read(key, now)

    monkeypatch.setattr(store, "read_cache_entry", spy)

    @flow
    def f() -> list[int]:
        return [plain(1), plain(1)]

    @flow(persist_result=True)
    def g() -> list[int]:
        return [plain(1), plain(1)]

    f()
    assert calls == ["plain 1", "plain 1"] and reads == []
    g()
    assert calls == ["plain 1", "plain 1", "plain 1"] and len(reads) == 2


def test_a_task_that_persists_passes_it_to_the_tasks_it_calls() -> None:
    """Prefect's ``should_persist_result()`` reads the task run's context before the flow
    run's: a task with ``persist_result=True`` makes the tasks it calls persist (and so
    cache with DEFAULT) inside a flow that does not; ``False`` turns it off again."""
    runs: list[int] = []

    @task
    def inner(x: int) -> int:
        runs.append(x)
        return x

    @task(persist_result=True)
    def outer(x: int) -> list[str]:
        return [inner(x, return_state=True).name, inner(x, return_state=True).name]

    @task(persist_result=False)
    def quiet(x: int) -> list[str]:
        return [inner(x, return_state=True).name, inner(x, return_state=True).name]

    @flow
    def f() -> tuple[list[str], list[str]]:
        return outer(1), quiet(2)

    assert f() == (["Completed", "Cached"], ["Completed", "Completed"])
    assert runs == [1, 2, 2]
