"""Futures and states inside containers: what a task receives and what a flow returns.

Each behaviour below was first observed in real Prefect 3.4.25 by running the same
program (imports changed back to ``prefect``); its output is quoted in the docstrings.
"""

from __future__ import annotations

import collections
import dataclasses
import pickle
import warnings
from typing import Any, NamedTuple
from unittest.mock import Mock

import pydantic
import pytest

from flowless import flow, task
from flowless.engine._outcome import return_value_to_state
from flowless.exceptions import PrefectException, UnfinishedRun, UpstreamTaskError
from flowless.futures import (
    PrefectFuture,
    PrefectFutureList,
    resolve_futures_to_states,
    visit_futures,
)
from flowless.states import Cancelled, Completed, Crashed, Failed, Pending, State, StateType
from flowless.utilities.annotations import (
    BaseAnnotation,
    NotSet,
    Quote,
    allow_failure,
    freeze,
    quote,
    unmapped,
)
from flowless.utilities.engine import resolve_inputs_sync, wait_for_dependencies


@task
def one() -> int:
    return 1


@task
def listed() -> list[int]:
    return [1]


@task
def boom() -> int:
    raise ValueError("bad")


@task
def show(x: Any) -> str:
    return f"{type(x).__name__}: {x!r}"


@task
def same(x: Any, ref: Any) -> bool:
    return x is ref


class Pair(NamedTuple):
    a: Any
    b: Any


class Single(NamedTuple):
    a: Any


POST_INITS: list[str] = []


@dataclasses.dataclass
class Box:
    a: Any
    b: Any = None

    def __post_init__(self) -> None:
        POST_INITS.append(f"{type(self.a).__name__} {type(self.b).__name__}")


@dataclasses.dataclass
class WithDerived:
    a: Any
    c: int = dataclasses.field(init=False, default=5)


@dataclasses.dataclass(frozen=True)
class Frozen:
    a: Any


class Model(pydantic.BaseModel):
    a: Any
    b: int = 0
    c: int = 3
    _private: int = 0


class Extra(pydantic.BaseModel, extra="allow"):
    a: Any


class FrozenModel(pydantic.BaseModel, frozen=True):
    a: Any


def _in_flow(body: Any) -> Any:
    """Run ``body()`` inside a flow run and give back what it returned."""

    @flow
    def harness() -> Any:
        return quote(body())  # quote: the flow must not take on states in the result

    return harness().unwrap()


# --- What a task receives ------------------------------------------------------------


def test_builtin_containers_are_rebuilt_with_results() -> None:
    """Prefect: ``list: [1, 2]``, ``tuple: (1, 2)``, ``set: {1, 2}``, ``dict: {'k': 1}``,
    ``dict: {1: 'v'}`` (keys are visited too), ``OrderedDict([('k', 1)])``; a frozenset
    is not entered: ``frozenset({<PrefectConcurrentFuture>})``."""

    def body() -> list[str]:
        f = one.submit()
        return [
            show([f, 2]),
            show((f, 2)),
            show({f, 2}),
            show({"k": f}),
            show({f: "v"}),
            show(collections.OrderedDict(k=f)),
            show(frozenset({f})).split("(")[0],
        ]

    assert _in_flow(body) == [
        "list: [1, 2]",
        "tuple: (1, 2)",
        "set: {1, 2}",
        "dict: {'k': 1}",
        "dict: {1: 'v'}",
        "OrderedDict: OrderedDict([('k', 1)])",
        "frozenset: frozenset",
    ]


def test_unchanged_containers_are_passed_as_they_are() -> None:
    """Prefect copies a container only when something in it changed: a task called
    directly receives the caller's own list and dict (``identity list: True``)."""

    def body() -> list[bool]:
        data, mapping = [1, [2, "x"]], {"a": (1, 2)}
        return [same(data, quote(data)), same(mapping, quote(mapping))]

    assert _in_flow(body) == [True, True]


def test_named_tuples_follow_prefects_rebuild() -> None:
    """Prefect rebuilds a tuple subclass as ``type(t)(items)``: a one-field named tuple
    comes back wrapping a list (``P1(a=[1])``), one of two fields cannot be rebuilt
    (``PrefectException: Failed to resolve inputs in parameter 'x'...`` caused by
    ``TypeError: P.__new__() missing 1 required positional argument: 'b'``), and one
    with no future in it is passed untouched."""

    def body() -> tuple[str, str, BaseException]:
        f = one.submit()
        try:
            show(Pair(f, 2))
        except PrefectException as exc:
            error: BaseException = exc
        return show(Single(f)), show(Pair(1, 2)), error

    single, untouched, error = _in_flow(body)
    assert single == "Single: Single(a=[1])"
    assert untouched == "Pair: Pair(a=1, b=2)"
    assert str(error) == (
        "Failed to resolve inputs in parameter 'x'. If your parameter type is not "
        "supported, consider using the `quote` annotation to skip resolution of inputs."
    )
    assert isinstance(error.__cause__, TypeError)
    assert "missing 1 required positional argument: 'b'" in str(error.__cause__)


def test_a_submitted_run_with_unresolvable_inputs_raises_on_result() -> None:
    """Prefect: ``submit result raised PrefectException Failed to resolve inputs in
    parameter 'x'...``."""

    def body() -> BaseException:
        with pytest.raises(PrefectException, match="parameter 'x'") as caught:
            show.submit(Pair(one.submit(), 2)).result()
        return caught.value

    assert isinstance(_in_flow(body).__cause__, TypeError)


def test_dict_subclasses_are_rebuilt_from_pairs() -> None:
    """Prefect: ``defaultdict -> raised PrefectException ... cause: TypeError('first
    argument must be callable or None')``; a ``Counter`` counts the pairs it is rebuilt
    from: ``Counter({(1, 2): 1})``."""

    def body() -> tuple[str, BaseException]:
        f = one.submit()
        try:
            show(collections.defaultdict(list, k=f))
        except PrefectException as exc:
            error: BaseException = exc
        return show(collections.Counter({f: 2})), error

    counter, error = _in_flow(body)
    assert counter == "Counter: Counter({(1, 2): 1})"
    assert str(error.__cause__) == "first argument must be callable or None"


def test_dataclasses_are_rebuilt_and_post_init_runs_again() -> None:
    """Prefect rebuilds with ``dataclasses.replace``: ``__post_init__`` ran twice
    (``post_init PrefectConcurrentFuture int`` then ``post_init int int``); a frozen
    dataclass works (``DF(a=1)``); a field with ``init=False`` fails (``ValueError('field
    c is declared with init=False, it cannot be specified with replace()')``) but only
    when something changed (``DI(a=1, c=5)``)."""
    POST_INITS.clear()

    def body() -> tuple[str, str, str, BaseException]:
        f = one.submit()
        try:
            show(WithDerived(f))
        except PrefectException as exc:
            error: BaseException = exc
        return show(Box(f, 3)), show(Frozen(f)), show(WithDerived(1)), error

    box, frozen, derived, error = _in_flow(body)
    assert box == "Box: Box(a=1, b=3)"
    assert POST_INITS == ["PrefectFuture int", "int int"]
    assert frozen == "Frozen: Frozen(a=1)"
    assert derived == "WithDerived: WithDerived(a=1, c=5)"
    assert str(error.__cause__) == (
        "field c is declared with init=False, it cannot be specified with replace()"
    )


def test_pydantic_models_are_rebuilt_without_validation() -> None:
    """Prefect: ``M(a=1, b=0, c=3)``; private attributes and the fields set are kept
    (``(9, ['a', 'c'], 1)``); extra fields are resolved (``MX(a=1, z=1)``); frozen
    models and ``model_construct`` work (``MF(a=1)``, ``M(a=1, b=0)``)."""

    @task
    def inspect(model: Model) -> tuple[int, list[str], Any]:
        return model._private, sorted(model.model_fields_set), model.a

    def body() -> list[Any]:
        f = one.submit()
        model = Model(a=f, c=3)
        model._private = 9
        return [
            show(model),
            inspect(model),
            show(Extra(a=1, z=f)),  # type: ignore[call-arg]
            show(FrozenModel(a=f)),
            show(Model.model_construct(a=f)),
        ]

    assert _in_flow(body) == [
        "Model: Model(a=1, b=0, c=3)",
        (9, ["a", "c"], 1),
        "Extra: Extra(a=1, z=1)",
        "FrozenModel: FrozenModel(a=1)",
        "Model: Model(a=1, b=0, c=3)",
    ]


def test_quote_stops_the_search_and_is_removed() -> None:
    """Prefect: ``quote([f])`` and ``[quote(f)]`` give the future itself; only one level
    of quoting is removed (``quote(quote(f))`` -> ``quote: quote(<future>)``,
    ``quote(allow_failure(f))`` -> ``allow_failure: allow_failure(<future>)``)."""

    def body() -> list[str]:
        f = one.submit()
        return [
            show(quote([f])),
            show([quote(f)]),
            show(quote(quote(f))),
            show(quote(allow_failure(f))),
        ]

    listed_quote, nested, double, inner = _in_flow(body)
    assert listed_quote.startswith("list: [PrefectFuture(")
    assert nested.startswith("list: [PrefectFuture(")
    assert double.startswith("quote: quote(PrefectFuture(")
    assert inner.startswith("allow_failure: allow_failure(PrefectFuture(")


def test_unmapped_and_allow_failure_are_removed() -> None:
    """Prefect: ``unmapped -> list: [1]``; ``allow_failure([b, f]) -> [ValueError('bad'),
    1]`` (the annotation covers everything inside it); ``allow_failure(quote(b))`` gives
    the future itself."""

    def body() -> list[str]:
        f, b = one.submit(), boom.submit()
        return [
            show(unmapped([f])),
            show(allow_failure([b, f])),
            show(allow_failure(quote(b))).split("(")[0],
        ]

    assert _in_flow(body) == [
        "list: [1]",
        "list: [ValueError('bad'), 1]",
        "PrefectFuture: PrefectFuture",
    ]


def test_the_nearest_annotation_decides_whether_a_failure_is_allowed() -> None:
    """Prefect: ``unmapped(allow_failure(b)) -> ValueError: ValueError('bad')``, while
    ``allow_failure(unmapped(b))`` leaves the task NotReady and the call gives ``None``."""

    def body() -> tuple[str, Any, State[Any]]:
        b = boom.submit()
        inner = show(unmapped(allow_failure(b)))
        outer = show(allow_failure(unmapped(b)))
        return inner, outer, show(allow_failure(unmapped(b)), return_state=True)

    inner, outer, state = _in_flow(body)
    assert inner == "ValueError: ValueError('bad')"
    assert outer is None
    assert state.name == "NotReady"


def test_states_as_arguments() -> None:
    """Prefect resolves states like futures: ``Completed(data=5) -> int: 5``; a failed
    one inside ``allow_failure`` gives its exception; a user-made ``Failed`` and
    crashed, cancelled or pending states (even inside ``allow_failure``) make the task
    ``NotReady("Upstream task run 'None' did not reach a 'COMPLETED' state.",
    type=PENDING)``."""

    def body() -> list[str]:
        out = [show(Completed(data=5)), show(allow_failure(Failed(data=ValueError("x"))))]
        for upstream in (
            Failed(data=ValueError("q")),
            allow_failure(Crashed(data=ValueError("c"))),
            allow_failure(Cancelled()),
            Pending(),
        ):
            out.append(str(show(upstream, return_state=True)))
        return out

    not_ready = (
        "NotReady(\"Upstream task run 'None' did not reach a 'COMPLETED' state.\", type=PENDING)"
    )
    assert _in_flow(body) == [
        "int: 5",
        "ValueError: ValueError('x')",
        not_ready,
        not_ready,
        not_ready,
        not_ready,
    ]


def test_an_upstream_result_is_searched_too() -> None:
    """Prefect searches what a future resolved to: a task that returned
    ``{"s": Completed(data=7)}`` gives the next task ``dict: {'s': 7}``."""

    @task
    def state_inside() -> dict[str, State[int]]:
        return {"s": Completed(data=7)}

    assert _in_flow(lambda: show(state_inside.submit())) == "dict: {'s': 7}"


def test_shared_objects_cycles_mocks_and_generators() -> None:
    """Prefect: ``shared -> [[1], [1]]`` (one rebuilt object), ``cycle -> [1, [<future>,
    [...]]]`` (the cycle leads back to the original), a mock is not entered, a generator
    is passed unconsumed."""

    @task
    def shape(x: Any) -> tuple[bool, Any]:
        return x[0] is x[1], x

    def body() -> list[Any]:
        f = one.submit()
        nested = [f]
        cycle: list[Any] = [f]
        cycle.append(cycle)
        mock = Mock(spec=list)
        mock.x = f
        gen = (v for v in [f])
        return [shape([nested, nested]), shape(cycle), show(mock)[:6], show(gen)[:10]]

    shared, cycle, mock, gen = _in_flow(body)
    assert shared == (True, [[1], [1]])
    assert cycle[1][0] == 1
    assert isinstance(cycle[1][1][0], PrefectFuture)  # the original list, unresolved
    assert mock == "Mock: "
    assert gen == "generator:"


def test_a_future_list_argument_stays_a_future_list() -> None:
    """Prefect rebuilds list subclasses as themselves: ``futurelist arg:
    PrefectFutureList``."""
    assert _in_flow(lambda: show(show.map([1, 2])).split(":")[0]) == "PrefectFutureList"


def test_wait_for_honours_allow_failure() -> None:
    """Prefect: ``wait_for=[allow_failure(b)] -> Completed()``, ``wait_for=[b] ->
    NotReady("Upstream task run '<id>' did not reach a 'COMPLETED' state.")``."""

    def body() -> tuple[str, State[Any], str]:
        b = boom.submit()
        allowed = str(show(1, wait_for=[allow_failure(b)], return_state=True))
        return allowed, show(1, wait_for=[b], return_state=True), b.task_run_id

    allowed, refused, run_id = _in_flow(body)
    assert allowed == "Completed()"
    assert refused.name == "NotReady"
    assert refused.message == f"Upstream task run '{run_id}' did not reach a 'COMPLETED' state."


# --- What a flow returns -------------------------------------------------------------


def _returned(value: Any) -> tuple[State[Any], Any]:
    """The final state of a flow returning ``value()``, and what calling it returns."""

    @flow
    def returns() -> Any:
        return value()

    state = returns(return_state=True)
    try:
        called = returns()
    except Exception as exc:
        called = exc
    return state, called


def test_returned_futures_in_builtin_containers_decide_the_state() -> None:
    """Prefect: ``[ok, bad, ok] -> Failed('1/3 states failed.')``, ``(bad,) ->
    Failed('1/1 states failed.')``, ``{ok, bad} -> Failed('1/2 states failed.')``; the
    call returns the states without raising."""
    state, called = _returned(lambda: [one.submit(), boom.submit(), one.submit()])
    assert str(state) == "Failed('1/3 states failed.')"
    assert [s.type for s in called] == [StateType.COMPLETED, StateType.FAILED, StateType.COMPLETED]
    assert str(_returned(lambda: (boom.submit(),))[0]) == "Failed('1/1 states failed.')"
    state, called = _returned(lambda: {one.submit(), boom.submit()})
    assert str(state) == "Failed('1/2 states failed.')"
    assert type(called) is set
    state, _ = _returned(lambda: [one.submit(), one.submit()])
    assert str(state) == "Completed('All states completed.')"


def test_returned_futures_elsewhere_become_states_but_do_not_decide() -> None:
    """Prefect: a dict, a nested list, a mixed list, a dataclass or a model holding a
    failed future's state completes (``Completed()``); ``__post_init__`` sees the
    future, then the state; a frozenset of failed states completes too."""
    POST_INITS.clear()
    for value in (
        lambda: {"a": boom.submit()},
        lambda: [[boom.submit()]],
        lambda: [boom.submit(), 3],
        lambda: Box(boom.submit()),
        lambda: Model(a=boom.submit()),
        lambda: frozenset({boom(return_state=True)}),
    ):
        state, called = _returned(value)
        assert str(state) == "Completed()"
        assert type(state.result()) is type(called)
    assert POST_INITS[:2] == ["PrefectFuture NoneType", "State NoneType"]
    state, _ = _returned(lambda: Model(a=boom.submit()))
    assert state.result().a.type is StateType.FAILED


def test_a_returned_named_tuple_of_futures_fails_the_flow() -> None:
    """Prefect: ``Failed("Flow run encountered an exception: TypeError: P.__new__()
    missing 1 required positional argument: 'b'")``; a named tuple of states is
    aggregated (``Failed('1/2 states failed.')``)."""
    state, called = _returned(lambda: Pair(one.submit(), boom.submit()))
    assert str(state) == (
        'Failed("Flow run encountered an exception: TypeError: Pair.__new__() missing 1 '
        "required positional argument: 'b'\")"
    )
    assert isinstance(called, TypeError)
    state, called = _returned(lambda: Pair(one(return_state=True), boom(return_state=True)))
    assert str(state) == "Failed('1/2 states failed.')"
    assert type(called) is Pair


def test_a_returned_generator_is_consumed_to_a_list() -> None:
    """Prefect: ``gen ints: Completed()`` with ``state.result -> [0, 1, 2]``; a generator
    of futures completes with the futures themselves (not searched, not waited for); a
    generator of failed states completes (the state check comes before consuming).
    Calling such a flow gives the list here; Prefect 3.4.25 gives ``None`` on Python 3.11
    (and the spent generator on 3.12)."""
    state, called = _returned(lambda: (i for i in range(3)))
    assert str(state) == "Completed()"
    assert state.result() == [0, 1, 2] == called
    state, _ = _returned(lambda: (f for f in [one.submit(), boom.submit()]))
    assert str(state) == "Completed()"
    assert all(isinstance(f, PrefectFuture) for f in state.result())
    state, _ = _returned(lambda: (s for s in [boom(return_state=True)]))
    assert str(state) == "Completed()"
    assert state.result()[0].type is StateType.FAILED


def test_other_iterators_are_returned_as_they_are() -> None:
    """Prefect: ``iter([...])`` and ``range(2)`` complete with the object itself."""
    state, called = _returned(lambda: range(2))
    assert str(state) == "Completed()"
    assert called == range(2)


def test_returned_annotations_stay() -> None:
    """Prefect: ``quote(state)`` and ``quote(future)`` complete with the quote (its
    contents untouched); ``allow_failure(future) -> allow_failure[State:Failed(...)]``."""
    state, called = _returned(lambda: quote(boom(return_state=True)))
    assert str(state) == "Completed()"
    assert type(called) is quote and called.unwrap().type is StateType.FAILED
    _, called = _returned(lambda: quote(boom.submit()))
    assert isinstance(called.unwrap(), PrefectFuture)
    state, called = _returned(lambda: allow_failure(boom.submit()))
    assert str(state) == "Completed()"
    assert type(called) is allow_failure and called.unwrap().type is StateType.FAILED


def test_a_returned_map_is_aggregated() -> None:
    """Prefect: ``map: Failed('2/2 states failed.')``, data a ``PrefectFutureList`` of
    states."""

    @task
    def broken(x: int) -> int:
        raise ValueError("bad")

    state, called = _returned(lambda: broken.map([1, 2]))
    assert str(state) == "Failed('2/2 states failed.')"
    assert type(called) is PrefectFutureList
    assert all(s.type is StateType.FAILED for s in called)


def test_aggregate_rules() -> None:
    """``prefect.states.return_value_to_state``: cancelled wins over paused, paused over
    failed; crashed counts as failed; a user-made state is taken as it is."""

    def run_state(kind: StateType) -> State[Any]:
        state: State[Any] = State(kind)
        state.state_details.task_run_id = "run"
        return state

    done, failed, crashed = (
        run_state(t) for t in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    )
    paused, cancelled = run_state(StateType.PAUSED), run_state(StateType.CANCELLED)
    running = run_state(StateType.RUNNING)
    assert str(return_value_to_state([done, crashed, failed])) == "Failed('2/3 states failed.')"
    assert str(return_value_to_state([failed, paused])) == "Paused('1/2 states paused.')"
    assert str(return_value_to_state([paused, cancelled])) == "Cancelled('1/2 states cancelled.')"
    assert str(return_value_to_state([done, running])) == "Failed('1/2 states are not final.')"
    assert str(return_value_to_state(done)) == "Completed('All states completed.')"
    mine = Failed(message="mine")
    assert return_value_to_state(mine) is mine
    assert str(return_value_to_state(frozenset({failed}))) == "Completed()"
    assert str(return_value_to_state(allow_failure(failed))) == "Completed()"


def test_a_task_returning_futures_or_a_generator() -> None:
    """Prefect leaves a task's return value as it is: ``task returning futures:
    Completed()`` with the futures as its result; a generator is consumed
    (``task gen state result: [0, 1, 2]``) while the call gives the spent generator."""

    @task
    def submits() -> list[PrefectFuture[int]]:
        return [one.submit(), one.submit()]

    @task
    def gen() -> Any:
        return (i for i in range(3))

    def body() -> list[Any]:
        state = submits(return_state=True)
        return [
            str(state),
            [type(f).__name__ for f in state.result()],
            gen(),
            gen(return_state=True).result(),
        ]

    state, kinds, spent, items = _in_flow(body)
    assert state == "Completed()"
    assert kinds == ["PrefectFuture", "PrefectFuture"]
    assert list(spent) == []
    assert items == [0, 1, 2]


# --- The traversal and the input rules on their own ----------------------------------


def test_visit_futures_keeps_atoms_and_untouched_containers() -> None:
    data = [1, "a", None, 2.5, b"x", {"k": (1, 2)}, {3}]
    assert visit_futures(data, lambda f, _: 0) is data
    assert visit_futures(7, lambda f, _: 0) == 7
    assert resolve_futures_to_states(data) is data


def test_resolve_inputs_sync_names_the_parameter() -> None:
    with pytest.raises(PrefectException, match="parameter 'point'") as caught:
        resolve_inputs_sync({"ok": 1, "point": Pair(Completed(data=1), 2)})
    assert isinstance(caught.value.__cause__, TypeError)
    with pytest.raises(UpstreamTaskError, match="Upstream task run 'None'"):
        resolve_inputs_sync({"x": [Failed()]})
    assert resolve_inputs_sync({"x": [Completed(data=1)]}) == {"x": [1]}
    assert resolve_inputs_sync({"x": [Completed(data=1)]}, return_data=False) == {"x": None}
    wait_for_dependencies([allow_failure(Failed()), Completed()])
    with pytest.raises(UpstreamTaskError):
        wait_for_dependencies([Crashed()])


# --- The annotations ------------------------------------------------------------------


def test_annotations_are_one_element_tuples() -> None:
    """Prefect: ``unmapped([1, 2])[0]`` and ``[5]`` are ``[1, 2]``, ``len`` 1, a tuple;
    ``x, = allow_failure(3)`` unpacks; equality needs the same type; they are
    unhashable."""
    mapped = unmapped([1, 2])
    assert (mapped[0], mapped[5], len(mapped), isinstance(mapped, tuple)) == (
        [1, 2],
        [1, 2],
        1,
        True,
    )
    (x,) = allow_failure(3)
    assert x == 3
    assert quote(1) == quote(1)
    assert (quote(1) == unmapped(1)) is False  # (``!=`` is tuple's, as in Prefect)
    assert (quote(1) == (1,)) is False
    with pytest.raises(TypeError, match="unhashable"):
        hash(quote(1))
    assert repr(mapped) == "unmapped([1, 2])"
    assert quote(2).unquote() == 2
    assert unmapped(1).rewrap(4) == unmapped(4)
    assert isinstance(allow_failure(1), BaseAnnotation)


def test_annotations_pickle_as_themselves() -> None:
    """flowless stores results, so a returned ``quote`` must come back as it was (Prefect's
    would come back as ``quote(([1],))``)."""
    for value in (quote([1]), unmapped({"a": 1}), allow_failure(2), freeze(3)):
        assert pickle.loads(pickle.dumps(value)) == value


def test_quote_spelling_freeze_and_notset() -> None:
    """Prefect: ``Quote(1)`` warns ``Use of `Quote` is deprecated. Use `quote` instead.``
    and is a ``quote``; ``freeze(object())`` raises ``Value must be JSON serializable``;
    ``freeze({'a': 1}).unfreeze() == {'a': 1}``; as a pydantic field type, ``MM(p=3).p``
    is ``freeze(3)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = Quote(1)
    assert isinstance(old, quote)
    assert [str(w.message) for w in caught] == [
        "Use of `Quote` is deprecated. Use `quote` instead."
    ]
    with pytest.raises(ValueError, match="Value must be JSON serializable"):
        freeze(object())
    assert freeze({"a": 1}).unfreeze() == {"a": 1}

    class Deployed(pydantic.BaseModel):
        p: freeze  # type: ignore[type-arg]

    assert Deployed(p=3).p == freeze(3)
    assert NotSet is not None and isinstance(NotSet, type)


def test_a_top_level_flow_gets_its_inputs_resolved_too() -> None:
    """As Prefect's flow engine (``resolve_inputs`` for every flow): ``quote`` is removed
    from a top-level flow's argument, and a state passed in becomes its result."""

    @flow
    def kinds(x: Any, y: Any) -> tuple[str, Any]:
        return type(x).__name__, y

    assert kinds(quote([1, 2]), Completed(data=7)) == ("list", 7)


def test_map_looks_through_allow_failure_and_quote() -> None:
    """Prefect's ``map`` unwraps ``allow_failure``/``quote`` to find what to map over and
    puts the annotation back around each call's value. Real Prefect 3.4.25 printed
    ``['0', "ValueError('bad')", '2']`` for the first flow."""

    @task
    def work(i: int) -> int:
        if i == 1:
            raise ValueError("bad")
        return i

    @task
    def show(x: Any) -> str:
        return repr(x)

    @task
    def pair(x: Any, y: int) -> tuple[Any, int]:
        return (x, y)

    @flow
    def cleanup() -> list[str]:
        return [s.result() for s in show.map(allow_failure(work.map([0, 1, 2])))]

    @flow
    def quoted() -> list[tuple[Any, int]]:
        return [p.result() for p in pair.map(quote([1, 2]), 5)]

    assert cleanup() == ["0", "ValueError('bad')", "2"]
    assert quoted() == [(1, 5), (2, 5)]


def test_a_subflow_whose_upstream_failed_is_not_ready() -> None:
    """As Prefect 3.4.25 (which printed ``NotReady(message="Upstream task run '...' did not
    reach a 'COMPLETED' state.", type=PENDING, result=None)`` for both calls): the subflow
    run is recorded NotReady and its body never runs; a plain call raises."""
    ran: list[int] = []

    @task
    def bad() -> None:
        raise ValueError("x")

    @flow
    def child(x: Any = None) -> int:
        ran.append(1)
        return 1

    seen: list[State[Any]] = []

    @flow
    def parent() -> None:
        fut = bad.submit()
        seen.extend([child(fut, return_state=True), child(wait_for=[fut], return_state=True)])
        with pytest.raises(UnfinishedRun):
            child(fut)

    parent()
    assert [(s.type, s.name) for s in seen] == [(StateType.PENDING, "NotReady")] * 2
    assert all("did not reach a 'COMPLETED' state." in (s.message or "") for s in seen)
    assert ran == []
