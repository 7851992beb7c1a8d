"""States print and behave as Prefect's do."""

from __future__ import annotations

import pytest

from flowless.exceptions import CancelledRun, CrashedRun, FailedRun, UnfinishedRun
from flowless.states import (
    AwaitingRetry,
    Cached,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Late,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
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


@pytest.mark.parametrize(
    ("state", "text"),
    # Prefect 3.4.25 printed, for ``repr()`` of the same states (``Completed(name="Cached")``
    # and ``Failed(name="TimedOut")`` there, as ``prefect.states`` has no such functions):
    [
        (Completed(data=b"abc"), "Completed(message=None, type=COMPLETED, result=b'abc')"),
        (Completed(message="hi", data=3), "Completed(message='hi', type=COMPLETED, result=3)"),
        (
            Failed(message="x", data=ValueError("v")),
            "Failed(message='x', type=FAILED, result=ValueError('v'))",
        ),
        (Cached(data=[1]), "Cached(message=None, type=COMPLETED, result=[1])"),
        (TimedOut(message="t"), "TimedOut(message='t', type=FAILED, result=None)"),
        (AwaitingRetry(), "AwaitingRetry(message=None, type=SCHEDULED, result=None)"),
        (Crashed(message="c"), "Crashed(message='c', type=CRASHED, result=None)"),
    ],
)
def test_reprs_printed_by_prefect(state: State[object], text: str) -> None:
    assert repr(state) == text


def test_more_strs_printed_by_prefect() -> None:
    # Late(type=SCHEDULED) Paused() Cancelling() Scheduled() ... Retrying(type=RUNNING)
    # Failed("it's")
    assert [str(s) for s in (Late(), Paused(), Cancelling(), Scheduled(), Retrying())] == [
        "Late(type=SCHEDULED)",
        "Paused()",
        "Cancelling()",
        "Scheduled()",
        "Retrying(type=RUNNING)",
    ]
    assert str(Failed(message="it's")) == 'Failed("it\'s")'


def test_state_types_print_as_prefects() -> None:
    """Prefect printed ``repr``, ``str``, an f-string, ``%s`` and ``{!r}`` of its members:

    StateType.COMPLETED StateType.COMPLETED StateType.COMPLETED StateType.FAILED StateType.CRASHED
    [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.COMPLETED,
     StateType.FAILED, StateType.CANCELLED, StateType.CRASHED, StateType.PAUSED,
     StateType.CANCELLING]
    {StateType.RUNNING: 1} [StateType.COMPLETED]
    """
    printed = [
        repr(StateType.COMPLETED),
        str(StateType.COMPLETED),
        f"{StateType.COMPLETED}",
        "%s" % StateType.FAILED,  # noqa: UP031 - the %-form is what is being checked
        f"{StateType.CRASHED!r}",
    ]
    assert printed == [
        "StateType.COMPLETED",
        "StateType.COMPLETED",
        "StateType.COMPLETED",
        "StateType.FAILED",
        "StateType.CRASHED",
    ]
    assert repr(list(StateType)) == (
        "[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.COMPLETED, "
        "StateType.FAILED, StateType.CANCELLED, StateType.CRASHED, StateType.PAUSED, "
        "StateType.CANCELLING]"
    )
    assert repr({StateType.RUNNING: 1}) == "{StateType.RUNNING: 1}"
    assert repr([Completed().type]) == "[StateType.COMPLETED]"
    assert StateType.COMPLETED == "COMPLETED" and StateType.COMPLETED.value == "COMPLETED"


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


def test_exceptions_of_states_without_one_say_what_prefects_say() -> None:
    """Prefect's ``state.result()`` for states with no exception of their own:

    failed FailedRun | went wrong
    failed-nomsg FailedRun | Run failed.
    crashed CrashedRun | c
    crashed-nomsg CrashedRun | Run crashed.
    cancelled CancelledRun | Run cancelled.
    pending UnfinishedRun | Run is in PENDING state, its result is not available.
    """
    for state, error, text in [
        (Failed(message="went wrong"), FailedRun, "went wrong"),
        (Failed(), FailedRun, "Run failed."),
        (Crashed(message="c"), CrashedRun, "c"),
        (Crashed(), CrashedRun, "Run crashed."),
        (Cancelled(), CancelledRun, "Run cancelled."),
        (Pending(), UnfinishedRun, "Run is in PENDING state, its result is not available."),
    ]:
        with pytest.raises(error) as raised:
            state.result()
        assert str(raised.value) == text
