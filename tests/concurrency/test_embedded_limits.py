"""The proof, on the embedded store (SQLite): contention, rate, and a crashed holder."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowless import flow
from flowless.concurrency import create_limit, read_limit
from flowless.concurrency.sync import concurrency
from tests.concurrency.harness import contention, kill_a_holder, rate_limited, snapshot


@pytest.fixture
def env(flowless_home: Path) -> dict[str, str]:
    return {"FLOWLESS_HOME": str(flowless_home), "FLOWLESS_BACKEND": "local"}


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_never_more_than_the_limit_held(env: dict[str, str], processes: bool) -> None:
    create_limit("three", 3)
    acquisitions, most_held, _ = contention(env, "three", processes)
    assert acquisitions == 1600
    assert most_held == 3  # the limit is reached, and never passed
    assert read_limit("three").active_slots == 0  # every slot came back


def test_rate_limit_grants_stay_under_limit_plus_decay_times_t(env: dict[str, str]) -> None:
    create_limit("rated", 5, slot_decay_per_second=10)
    grants, excess, achieved = rate_limited(env, "rated")
    assert grants == 100
    assert excess <= 1e-6
    assert achieved <= 10 + 1e-6


def test_a_killed_holders_slots_come_back_within_the_lease(env: dict[str, str]) -> None:
    create_limit("crash", 2)
    create_limit("bystander", 4, slot_decay_per_second=0)

    @flow
    def recorded() -> int:
        return 1

    recorded()
    with concurrency("bystander", occupy=3):  # held by this process, untouched by the crash
        before = snapshot(env)
        seconds = kill_a_holder(env, lease_duration=2.0)
        assert snapshot(env) == before
    print(f"\nslots usable again {seconds:.2f}s after SIGKILL (lease 2 s)")
    assert seconds <= 2.0 + 1.0  # the lease, plus a look's worth of slack
