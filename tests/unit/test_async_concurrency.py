"""``flowless.concurrency.asyncio``: ``async with concurrency(...)`` and ``await rate_limit(...)``
as Prefect's docs use them, in async tasks of an async flow run with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from flowless import flow, task
from flowless.concurrency import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    create_limit,
    read_limit,
    sync,
)
from flowless.concurrency.asyncio import concurrency, rate_limit
from tests.conftest import log_lines


@contextmanager
def held_elsewhere(name: str) -> Iterator[threading.Event]:
    """A slot of ``name`` held by a thread until the returned event is set."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sync.concurrency(name):
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join(10)


def test_async_tasks_share_a_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect's docs example: async tasks in one flow, ``async with concurrency``."""
    create_limit("database", 1)
    running, peak = [0], [0]

    @task
    async def process_data(x: int, y: int) -> int:
        async with concurrency("database", occupy=1):
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await asyncio.sleep(0.02)
            running[0] -= 1
            return x + y

    @flow
    async def my_flow() -> list[int]:
        pairs = [(1, 2), (2, 3), (3, 4), (4, 5)]
        return list(await asyncio.gather(*[process_data(x, y) for x, y in pairs]))

    assert asyncio.run(my_flow()) == [3, 5, 7, 9]
    assert peak[0] == 1
    assert read_limit("database").active_slots == 0
    waits = [line for line in log_lines(capsys.readouterr().err) if "Waited" in line]
    assert waits, "a wait shows in the waiting task run's log"
    assert all(re.search(r"Task run 'process_data-\w+' - Waited", line) for line in waits)


def test_waiting_leaves_the_event_loop_free() -> None:
    create_limit("db", 1)
    ticks: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def main(release: threading.Event) -> float:
        stop = asyncio.Event()
        ticking = asyncio.create_task(ticker(stop))
        asyncio.get_running_loop().call_later(0.3, release.set)
        started = time.monotonic()
        async with concurrency("db"):
            waited = time.monotonic() - started
        stop.set()
        await ticking
        return waited

    with held_elsewhere("db") as release:
        waited = asyncio.run(main(release))
    assert waited >= 0.25
    assert len(ticks) >= 10, "the loop kept running other coroutines during the wait"
    assert read_limit("db").active_slots == 0


def test_the_block_gives_its_slots_back_when_it_raises() -> None:
    create_limit("db", 2)

    async def main() -> None:
        async with concurrency("db", occupy=2):
            assert read_limit("db").active_slots == 2
            raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        asyncio.run(main())
    assert read_limit("db").active_slots == 0


def test_missing_limits_warn_and_strict_raises(capsys: pytest.CaptureFixture[str]) -> None:
    ran: list[int] = []

    async def main() -> None:
        async with concurrency("nope"):
            ran.append(1)
        await rate_limit("nada")
        with pytest.raises(
            ConcurrencySlotAcquisitionError,
            match=r"Unable to acquire concurrency slots on \['nope'\]",
        ):
            async with concurrency("nope", strict=True):
                ran.append(2)

    asyncio.run(main())
    assert ran == [1]
    assert log_lines(capsys.readouterr().err) == [
        "WARNING | flowless.concurrency - Concurrency limits ['nope'] do not exist - skipping "
        "acquisition.",
        "WARNING | flowless.concurrency - Concurrency limits ['nada'] do not exist - skipping "
        "acquisition.",
    ]


def test_a_timeout_raises_prefects_error_and_takes_nothing() -> None:
    create_limit("db", 1)

    async def main() -> None:
        async with concurrency("db", timeout_seconds=0.2):
            raise AssertionError("must not get the slot")

    with held_elsewhere("db"):
        with pytest.raises(
            AcquireConcurrencySlotTimeoutError,
            match=r"Attempt to acquire concurrency slots timed out after 0.2 second\(s\)",
        ):
            asyncio.run(main())
        assert read_limit("db").active_slots == 1
    assert read_limit("db").active_slots == 0


def _waiters() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "flowless-concurrency-wait"]


def test_a_cancelled_waiter_gives_back_the_slots_its_wait_takes() -> None:
    """The thread waiting for the slot cannot be stopped: when the coroutine is cancelled
    (here by ``wait_for``), the slot it goes on to take is given back at once, rather than
    held, and its lease renewed, for a block that will never run."""
    create_limit("db", 1)

    async def main() -> None:
        async with concurrency("db"):
            raise AssertionError("must not get the slot")

    with held_elsewhere("db") as release:
        with pytest.raises(TimeoutError):
            asyncio.run(asyncio.wait_for(main(), timeout=0.2))
        assert _waiters(), "the abandoned wait goes on until the slot is free"
        release.set()
    deadline = time.monotonic() + 10
    while _waiters() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _waiters()
    limit = read_limit("db")
    assert (limit.active_slots, limit.leases) == (0, ())


def test_rate_limit_waits_for_decay() -> None:
    create_limit("api", 1, slot_decay_per_second=10)

    @task
    async def call_api(i: int) -> int:
        await rate_limit("api")
        return i

    @flow
    async def paced() -> list[int]:
        return [await call_api(i) for i in range(3)]

    started = time.monotonic()
    assert asyncio.run(paced()) == [0, 1, 2]
    assert time.monotonic() - started >= 0.15  # three slots of a limit that frees 1 per 0.1 s


def test_rate_limit_needs_a_decaying_limit_as_the_sync_one() -> None:
    create_limit("flat", 5)
    with pytest.raises(
        ConcurrencySlotAcquisitionError,
        match="Only concurrency limits with slot decay can be used for rate limiting",
    ):
        asyncio.run(rate_limit("flat"))
