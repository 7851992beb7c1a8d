"""Decorator options: Prefect's names and defaults, and clear errors for bad values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowless import Flow, Task, flow, task
from flowless.cache_policies import INPUTS, NO_CACHE
from flowless.exceptions import ConfigurationError
from flowless.task_runners import ThreadPoolTaskRunner
from flowless.tasks import exponential_backoff, task_input_hash


def test_task_defaults() -> None:
    @task
    def fetch_stats(repo: str) -> str:
        """Fetch."""
        return repo

    assert isinstance(fetch_stats, Task)
    assert fetch_stats.name == "fetch_stats"
    assert fetch_stats.description == "Fetch."
    assert fetch_stats.retries == 0
    assert fetch_stats.retry_delays == [0.0]
    assert fetch_stats.effective_cache_policy is None
    assert fetch_stats.task_key.endswith("test_task_defaults.<locals>.fetch_stats")


def test_flow_name_uses_hyphens() -> None:
    @flow
    def show_stars() -> None: ...

    assert isinstance(show_stars, Flow) and show_stars.name == "show-stars"
    assert flow(name="custom")(lambda: None).name == "custom"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "`retries` must be a whole number"),
        ({"retries": 1.5}, "`retries` must be a whole number"),
        ({"retry_delay_seconds": -2}, "`retry_delay_seconds` must be 0 or more"),
        ({"retry_delay_seconds": "soon"}, "`retry_delay_seconds` must be a number"),
        ({"retry_delay_seconds": list(range(51))}, "more than 50 retry delays"),
        ({"timeout_seconds": 0}, "`timeout_seconds` must be greater than 0"),
        ({"retry_jitter_factor": -1}, "`retry_jitter_factor` must be 0 or more"),
        ({"cache_policy": "INPUTS"}, "`cache_policy` must be a CachePolicy"),
        ({"cache_expiration": 60}, "`cache_expiration` must be a datetime.timedelta"),
        ({"cache_policy": INPUTS, "cache_key_fn": task_input_hash}, "both `cache_policy`"),
        ({"task_run_name": 3}, "`task_run_name` must be a string or a callable"),
    ],
)
def test_bad_task_options_fail_at_decoration(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        task(**options)(lambda: None)


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="retires"):
        task(retires=3)(lambda: None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "`retries`"),
        ({"timeout_seconds": -1}, "`timeout_seconds`"),
        ({"task_runner": "threads"}, "`task_runner` must be a ThreadPoolTaskRunner"),
        ({"name": "a/b"}, "is not valid"),
    ],
)
def test_bad_flow_options(options: dict[str, object], message: str) -> None:
    def body() -> None: ...

    with pytest.raises(ConfigurationError, match=message):
        flow(**options)(body)


def test_task_runner_class_or_instance() -> None:
    def body() -> None: ...

    assert flow(task_runner=ThreadPoolTaskRunner)(body).task_runner is not None
    with pytest.raises(ConfigurationError, match="<lambda>"):
        flow(lambda: None)
    with pytest.raises(ConfigurationError, match="max_workers"):
        ThreadPoolTaskRunner(max_workers=0)


def test_retry_delay_forms() -> None:
    assert task(retries=2, retry_delay_seconds=3)(lambda: None).retry_delays == [3.0]
    assert task(retries=2, retry_delay_seconds=[1, 2])(lambda: None).retry_delays == [1.0, 2.0]
    backoff = task(retries=4, retry_delay_seconds=exponential_backoff(10))(lambda: None)
    assert backoff.retry_delays == [10, 20, 40, 80]


def test_exponential_backoff_matches_prefect() -> None:
    assert exponential_backoff(backoff_factor=10)(5) == [10, 20, 40, 80, 160]


def test_with_options_copies() -> None:
    @task(retries=1, cache_policy=INPUTS)
    def t() -> None: ...

    t2 = t.with_options(name="other", retries=5)
    assert (t2.name, t2.retries, t2.fn) == ("other", 5, t.fn)
    assert (t.name, t.retries) == ("t", 1)
    assert t2.task_key == t.task_key
    t3 = t.with_options(cache_key_fn=task_input_hash)
    assert t3.cache_key_fn is task_input_hash
    assert t.with_options(cache_policy=NO_CACHE).effective_cache_policy is None
    with pytest.raises(TypeError, match="unexpected option"):
        t.with_options(nope=1)


def test_flow_with_options() -> None:
    @flow(retries=1)
    def f() -> None: ...

    assert f.with_options(retries=3, name="g").retries == 3
    assert f.retries == 1


def test_cache_options() -> None:
    t = task(cache_policy=INPUTS, cache_expiration=timedelta(days=1), refresh_cache=True)(
        lambda x: x
    )
    assert t.effective_cache_policy is INPUTS
    assert t.cache_expiration == timedelta(days=1) and t.refresh_cache
    assert task(cache_policy=INPUTS, persist_result=False)(lambda: 1).effective_cache_policy is None
