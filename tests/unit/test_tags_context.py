"""``with tags(...)``: Prefect's context manager that tags the runs created inside it.

The expectations are what Prefect 3.4.25 does (checked with a program under it): a task
run gets its task's own tags plus those of every enclosing block; blocks nest and union;
a task submitted inside a block keeps them when it runs later; a flow run gets the tags of
the blocks around its call, and they are gone after the block; tag concurrency limits
count the added tags like the task's own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import flowless
import flowless.context
from flowless import flow, runtime, tags, task
from flowless.concurrency import create_limit, read_limit
from flowless.context import TagsContext
from flowless.futures import wait
from flowless.states import StateType
from flowless.store import Store, TaskRunRecord


@task(tags=["own"])
def tagged() -> list[str]:
    return sorted(runtime.task_run.tags)


def test_tags_is_exported_where_prefect_has_it() -> None:
    assert flowless.tags is flowless.context.tags is tags


def test_task_runs_get_the_tags_of_the_blocks_around_them() -> None:
    @flow
    def body() -> dict[str, Any]:
        out: dict[str, Any] = {"plain": tagged()}
        with tags("a", "b") as current:
            out["current"] = current
            out["ab"] = tagged()
            with tags("c") as inner:
                out["inner"] = inner
                out["abc"] = tagged()
                future = tagged.submit()
            out["ab again"] = tagged()
        out["submitted"] = future.result()
        out["after"] = tagged()
        out["context after"] = TagsContext.get().current_tags
        return out

    assert body() == {
        "plain": ["own"],
        "current": {"a", "b"},
        "ab": ["a", "b", "own"],
        "inner": {"a", "b", "c"},
        "abc": ["a", "b", "c", "own"],
        "ab again": ["a", "b", "own"],
        "submitted": ["a", "b", "c", "own"],  # submitted inside the block, ran after it
        "after": ["own"],
        "context after": set(),
    }


def test_mapped_runs_and_tasks_outside_flows_get_them_too() -> None:
    @task
    def each(x: int) -> tuple[int, list[str]]:
        return x, sorted(runtime.task_run.tags)

    @flow
    def body() -> list[tuple[int, list[str]]]:
        with tags("m"):
            futures = each.map([1, 2])
        return futures.result()

    assert body() == [(1, ["m"]), (2, ["m"])]
    with tags("standalone"):
        assert tagged() == ["own", "standalone"]


def test_the_tags_are_stored_with_the_task_runs(store: Store) -> None:
    @flow
    def body() -> str:
        with tags("stored"):
            tagged()
        tagged()
        return str(runtime.flow_run.id)

    runs = [r for r in store.read_task_runs(body()) if isinstance(r, TaskRunRecord)]
    assert sorted(r.tags for r in runs) == [["own"], ["own", "stored"]]


def test_flow_runs_get_the_tags_of_the_blocks_around_their_call(store: Store) -> None:
    @flow
    def sub() -> tuple[list[str], list[str]]:
        return sorted(runtime.flow_run.tags), tagged()

    @flow
    def parent() -> tuple[list[str], tuple[list[str], list[str]], list[str]]:
        with tags("p"):
            inner = sub()
        return sorted(runtime.flow_run.tags), inner, tagged()

    # As in Prefect: the flow run's tags come from the blocks around the call, and the
    # body runs inside those blocks, so its task runs get them as well.
    with tags("outer"):
        assert parent() == (["outer"], (["outer", "p"], ["outer", "own", "p"]), ["outer", "own"])
    assert parent() == ([], (["p"], ["own", "p"]), ["own"])
    state = sub(return_state=True)
    assert store.read_flow_run(state.state_details.flow_run_id).tags == []
    with tags("x", "y"):
        state = sub(return_state=True)
    assert store.read_flow_run(state.state_details.flow_run_id).tags == ["x", "y"]


def test_the_tags_leave_with_the_block_even_on_an_error() -> None:
    def fail_inside() -> None:
        with tags("gone"):
            assert TagsContext.get().current_tags == {"gone"}
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fail_inside()
    assert TagsContext.get().current_tags == set()
    assert flowless.context.current_tags() == frozenset()


def test_tags_context_replaces_the_current_tags_for_its_block() -> None:
    with tags("a"):
        with TagsContext(current_tags={"only"}):
            assert tagged() == ["only", "own"]
        assert TagsContext.get().current_tags == {"a"}


def test_a_tag_limit_counts_the_tags_added_by_the_block() -> None:
    """Prefect 3.4.25 holds ``tag:db`` for task runs tagged ``db`` by the block: with a
    limit of 1, three submitted runs never overlap; untagged, they do."""
    create_limit("tag:db", 1)
    running, peak, lock = [0], [0], threading.Lock()

    @task
    def work(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return i

    @flow
    def body() -> tuple[int, int]:
        with tags("db"):
            futures = [work.submit(i) for i in range(3)]
        wait(futures)
        limited, peak[0] = peak[0], 0
        wait([work.submit(i) for i in range(3)])
        return limited, peak[0]

    limited, free = body()
    assert limited == 1
    assert free > 1
    assert read_limit("tag:db").active_slots == 0


def test_a_zero_tag_limit_refuses_a_run_tagged_by_the_block_as_by_its_own_tags() -> None:
    create_limit("tag:frozen", 0)

    @task
    def never() -> None:
        raise AssertionError("must not run")

    @flow
    def body() -> tuple[StateType, str | None]:
        with tags("frozen"):
            state = never(return_state=True)
        return state.type, state.message

    assert body() == (
        StateType.FAILED,
        'The concurrency limit on tag "frozen" is 0 and will deadlock if the task tries to '
        "run again.",
    )


def test_awaited_async_tasks_share_a_tag_limit_without_starving_the_loop() -> None:
    """Twelve async tasks tagged by the block, gathered on one loop, limit 1: each wait
    for the slot runs off the loop on a thread of its own. In the loop's default executor
    (6 threads here) the waiters took every thread and the holder could never give its
    slot back: this hung."""
    create_limit("tag:tdb", 1)
    running, peak = [0], [0]

    @task
    async def one(i: int) -> int:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.01)
        running[0] -= 1
        return i

    @flow
    async def body() -> list[int]:
        with tags("tdb"):
            return list(await asyncio.gather(*[one(i) for i in range(12)]))

    results: list[list[int]] = []
    runner = threading.Thread(target=lambda: results.append(asyncio.run(body())), daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert results == [list(range(12))], "the tasks waiting for the tag's slot hung"
    assert peak[0] == 1
    assert read_limit("tag:tdb").active_slots == 0
