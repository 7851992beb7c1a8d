"""States print and behave as Prefect's do."""

from __future__ import annotations

import pytest

from flowless.exceptions import CrashedRun, FailedRun, UnfinishedRun
from flowless.states import (
    AwaitingRetry,
    Cached,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    StateType,
    TimedOut,
    get_state_exception,
    is_state_iterable,
)


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (Completed(), "Completed()"),
        (Failed(message="x"), "Failed('x')"),
        (Cancelled(), "Cancelled()"),
        (Crashed(message="c"), "Crashed('c')"),
        (Pending(), "Pending()"),
        (Running(), "Running()"),
        (AwaitingRetry(), "AwaitingRetry(type=SCHEDULED)"),
        (Retrying(), "Retrying(type=RUNNING)"),
        (Cached(), "Cached(type=COMPLETED)"),
        (TimedOut(message="t"), "TimedOut('t', type=FAILED)"),
    ],
)
def test_str_matches_prefect(state: State[object], text: str) -> None:
    assert str(state) == text


def test_repr_matches_prefect() -> None:
    assert repr(Completed(message="hi")) == "Completed(message='hi', type=COMPLETED, result=None)"


def test_types_of_named_states() -> None:
    assert Cached().type is StateType.COMPLETED and Cached().is_completed()
    assert TimedOut().type is StateType.FAILED and TimedOut().is_failed()
    assert AwaitingRetry().is_scheduled() and Retrying().is_running()


def test_result_of_completed_returns_data() -> None:
    assert Completed(data=3).result() == 3


def test_result_of_failed_raises_its_exception() -> None:
    exc = ValueError("bad")
    with pytest.raises(ValueError, match="bad"):
        Failed(data=exc).result()
    assert Failed(data=exc).result(raise_on_failure=False) is exc


def test_failed_without_exception_raises_failed_run() -> None:
    with pytest.raises(FailedRun, match="went wrong"):
        Failed(message="went wrong").result()
    with pytest.raises(CrashedRun):
        Crashed().result()


def test_unfinished_state_has_no_result() -> None:
    with pytest.raises(UnfinishedRun, match="PENDING"):
        Pending().result()


def test_aggregate_exception_is_first_failed() -> None:
    inner = KeyError("k")
    group = Failed(message="1/2 states failed.", data=[Completed(data=1), Failed(data=inner)])
    assert get_state_exception(group) is inner
    assert is_state_iterable(group.data)
    assert not is_state_iterable([])
    assert not is_state_iterable([Completed(), 1])


def test_prefect2_result_keyword() -> None:
    assert Completed(result=5).data == 5
    with pytest.raises(TypeError, match="unexpected state argument"):
        Completed(bogus=1)
