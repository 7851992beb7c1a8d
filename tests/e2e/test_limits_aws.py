"""The concurrency proof on DynamoDB, through the local cloud over HTTP: contention from
threads and from processes, the rate invariant, a killed holder, and tag limits on task
runs that execute as Lambda invocations.

The local cloud's DynamoDB takes one request at a time (moto's conditional writes are
not atomic otherwise), so the acquisitions per second printed here are moto's, far below
DynamoDB's; the invariants are what these tests prove.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from flowless import flow
from flowless.concurrency import create_limit, delete_limit, read_limit
from flowless.concurrency.sync import concurrency
from tests.concurrency.harness import bench, contention, kill_a_holder, rate_limited, snapshot
from tests.e2e.cloud import Cloud


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_never_more_than_the_limit_held(on_aws: Cloud, processes: bool) -> None:
    name = _name("three")
    create_limit(name, 3)
    # Held 20 ms: moto serves one DynamoDB request at a time (~6 ms), so with a 1 ms hold
    # the holders would rarely overlap and the limit would never be reached.
    acquisitions, most_held, _ = contention(on_aws.cloud.env, name, processes, hold=0.02)
    assert acquisitions == 1600
    assert most_held == 3  # the limit is reached, and never passed
    assert read_limit(name).active_slots == 0


def test_rate_limit_grants_stay_under_limit_plus_decay_times_t(on_aws: Cloud) -> None:
    name = _name("rated")
    create_limit(name, 5, slot_decay_per_second=10)
    grants, excess, achieved = rate_limited(on_aws.cloud.env, name)
    assert grants == 100
    assert excess <= 1e-6
    assert achieved <= 10 + 1e-6


def test_a_killed_holders_slots_come_back_within_the_lease(on_aws: Cloud) -> None:
    for leftover in ("crash", "bystander"):  # names are fixed by the holder script
        try:
            delete_limit(leftover)
        except LookupError:
            pass
    create_limit("crash", 2)
    create_limit("bystander", 4)

    @flow
    def recorded() -> int:
        return 1

    recorded()
    with concurrency("bystander", occupy=3):
        before = snapshot(on_aws.cloud.env)
        seconds = kill_a_holder(on_aws.cloud.env, lease_duration=2.0)
        assert snapshot(on_aws.cloud.env) == before
    print(f"\nslots usable again {seconds:.2f}s after SIGKILL (lease 2 s)")
    assert seconds <= 2.0 + 1.0


def test_a_tag_limit_serialises_task_runs_across_lambda_invocations(aws: Cloud) -> None:
    """The flow runs on the flow-run function; each task run is an invocation of the
    task-run function; the tag's slot is taken on the flow side, around the invoke."""
    with bench.environment(aws.cloud.env):
        try:
            delete_limit("tag:e2e-serial")
        except LookupError:
            pass
        create_limit("tag:e2e-serial", 1)
    with aws.counting() as calls:
        answer = aws.invoke_flow({"flow": "e2e_flows:serial_fanout", "parameters": {"n": 4}})
    assert answer["state"]["type"] == "COMPLETED", answer
    intervals = json.loads(base64.b64decode(answer["result"]["data"]))
    assert len(intervals) == 4
    assert bench.most_held([tuple(x) for x in intervals]) == 1  # .map, yet one at a time
    assert calls["task"] == 4
    with bench.environment(aws.cloud.env):
        assert read_limit("tag:e2e-serial").active_slots == 0
