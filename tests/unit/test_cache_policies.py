"""Cache policy keys: composition, exclusion, and what each policy depends on."""

from __future__ import annotations

from typing import Any

import pytest

from flowless import task
from flowless.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    RUN_ID,
    TASK_SOURCE,
    CachePolicy,
    CompoundCachePolicy,
    Inputs,
)
from flowless.context import TaskRunContext
from flowless.states import StateType
from flowless.store import TaskRunRecord


@task
def double(x: int) -> int:
    return x * 2


def _ctx(flow_run_id: str | None = "run-1") -> TaskRunContext:
    record = TaskRunRecord(
        id="t",
        flow_run_id=flow_run_id,
        task_key=double.task_key,
        dynamic_key=0,
        name="n",
        task_name="double",
        state_type=StateType.PENDING,
        state_name="Pending",
    )
    return TaskRunContext(double, record, {}, None, False)  # type: ignore[arg-type]


def _key(
    policy: CachePolicy,
    inputs: dict[str, Any],
    params: dict[str, Any] | None = None,
    run: str | None = "run-1",
) -> str | None:
    return policy.compute_key(_ctx(run), inputs, params or {})


def test_inputs_key_depends_on_inputs_only() -> None:
    assert _key(INPUTS, {"x": 1}) == _key(INPUTS, {"x": 1}, run="other")
    assert _key(INPUTS, {"x": 1}) != _key(INPUTS, {"x": 2})


def test_inputs_minus_name_ignores_it() -> None:
    policy = INPUTS - "noise"
    assert isinstance(policy, Inputs) and policy.exclude == ["noise"]
    assert _key(policy, {"x": 1, "noise": 1}) == _key(policy, {"x": 1, "noise": 2})


def test_run_id_scopes_to_flow_run() -> None:
    assert _key(RUN_ID, {}) != _key(RUN_ID, {}, run="run-2")
    # outside a flow run, Prefect's RUN_ID is the task run's own id (``_key`` passes "t")
    assert _key(RUN_ID, {}, run=None) == "t"


def test_flow_parameters() -> None:
    assert _key(FLOW_PARAMETERS, {}, {"a": 1}) != _key(FLOW_PARAMETERS, {}, {"a": 2})


def test_task_source_is_stable() -> None:
    assert _key(TASK_SOURCE, {}) == _key(TASK_SOURCE, {}) == double.source_hash


def test_default_is_inputs_source_and_run_id() -> None:
    assert isinstance(DEFAULT, CompoundCachePolicy)
    assert set(map(type, DEFAULT.policies)) == {type(INPUTS), type(TASK_SOURCE), type(RUN_ID)}
    assert _key(DEFAULT, {"x": 1}) != _key(DEFAULT, {"x": 1}, run="run-2")


def test_adding_no_cache_is_identity() -> None:
    assert INPUTS + NO_CACHE is INPUTS
    assert NO_CACHE + INPUTS is INPUTS
    assert _key(NO_CACHE, {"x": 1}) is None


def test_compound_flattens() -> None:
    policy = (INPUTS + TASK_SOURCE) + RUN_ID
    assert isinstance(policy, CompoundCachePolicy) and len(policy.policies) == 3


def test_unhashable_inputs_explain_the_fix() -> None:
    import threading

    with pytest.raises(ValueError, match="NO_CACHE"):
        _key(INPUTS, {"lock": threading.Lock()})


def test_from_cache_key_fn() -> None:
    policy = CachePolicy.from_cache_key_fn(lambda ctx, params: f"k{params['x']}")
    assert _key(policy, {"x": 4}) == "k4"
