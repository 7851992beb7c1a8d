"""Futures for submitted task runs, ``wait`` / ``as_completed`` over them, and the search
for futures and states inside what a task receives and what a flow returns.

A ``PrefectFuture`` wraps a ``concurrent.futures.Future`` that resolves to the task
run's final ``State``; ``result()`` unwraps it the way Prefect does (a failed run
raises its exception).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from operator import is_not
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from flowless._annotations import BaseAnnotation, allow_failure, quote
from flowless._guard import enter_engine, leave_engine
from flowless.states import State, StateType
from flowless.task_runners import is_worker_thread

if TYPE_CHECKING:
    from flowless.invoke import TaskCall

__all__ = [
    "DoneAndNotDoneFutures",
    "PrefectFuture",
    "PrefectFutureList",
    "RunQueue",
    "SubmittedRun",
    "as_completed",
    "resolve_futures_to_results",
    "resolve_futures_to_states",
    "visit_futures",
    "wait",
]

R = TypeVar("R")


def _done() -> Any:
    raise RuntimeError("a submitted run executes once")


class SubmittedRun(Generic[R]):
    """One submitted task run: its public future, and the work that completes it.

    Whoever claims the run first executes it: the pool thread it was queued on, or a
    worker thread that helps while it waits (see ``RunQueue``). The other party finds it
    claimed and does nothing, so the run executes once and its future is completed only
    by the run itself.
    """

    __slots__ = ("_claim", "_work", "future", "queue")

    def __init__(self, work: Callable[[], State[R]], queue: RunQueue) -> None:
        self.future: cf.Future[State[R]] = cf.Future()
        self._work = work
        self._claim = threading.Lock()
        self.queue = queue

    def claim(self) -> bool:
        return self._claim.acquire(blocking=False)

    def run(self) -> None:
        """The pool's entry point."""
        if self.claim():
            self.execute()

    def execute(self) -> None:
        """Run it (the caller has claimed it)."""
        if not self.future.set_running_or_notify_cancel():
            return  # cancelled before it started (the flow run timed out)
        work, self._work = self._work, _done  # its closure (arguments, context) goes now
        try:
            state = work()
        except BaseException as exc:
            self.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self.future.set_result(state)


class RunQueue:
    """The runs submitted in one flow run, in submission order.

    A worker thread (a pool thread, or the worker of a timed task) that is about to wait
    on a run helps instead: it claims and executes the oldest run nobody has started,
    until what it waits for is done. Tasks that submit tasks and wait for them therefore
    never starve a bounded pool, and because the oldest runs go first (a chain of
    ``wait_for`` dependencies runs front to back), helping never recurses deeply.
    """

    def __init__(self, keep: bool = True) -> None:
        self._runs: list[SubmittedRun[Any]] = []
        self._next = 0
        self._lock = threading.Lock()
        #: Keep every run (a flow run waits for all of them at its end); ``False`` for
        #: task runs outside flows, whose claimed runs are forgotten.
        self._keep = keep

    def add(self, run: SubmittedRun[Any]) -> None:
        with self._lock:
            self._runs.append(run)

    def futures(self) -> list[cf.Future[Any]]:
        with self._lock:
            return [run.future for run in self._runs]

    def claim_next(self) -> SubmittedRun[Any] | None:
        with self._lock:
            runs = self._runs
            while self._next < len(runs):
                run = runs[self._next]
                self._next += 1
                if run.claim():
                    self._forget_claimed()
                    return run
            self._forget_claimed()
            return None

    def _forget_claimed(self) -> None:
        if not self._keep and self._next > 256:
            del self._runs[: self._next]
            self._next = 0


def _help_until_done(future: cf.Future[Any], queue: RunQueue) -> None:
    if not is_worker_thread():
        return  # the flow thread never helps: its waits (even polls) behave as on a free pool
    while not future.done():
        run = queue.claim_next()
        if run is None:
            return  # everything has started somewhere: just wait
        run.execute()


class PrefectFuture(Generic[R]):
    """The eventual result of one submitted task run.

    A worker thread that waits on a run helps run the flow run's queued runs first (see
    ``RunQueue``). Every method is engine code for
    the timeout guard (``flowless._guard``), so a timed worker is never interrupted in
    the middle of the futures' own locking.
    """

    __slots__ = ("_call", "_future", "_run")

    def __init__(self, call: TaskCall, run: SubmittedRun[R]) -> None:
        self._call = call
        self._run = run
        self._future = run.future

    def _steal(self) -> None:
        # Also before a bounded wait: in a saturated pool the run would otherwise not start
        # before the wait gives up.
        _help_until_done(self._future, self._run.queue)

    @property
    def task_run_id(self) -> str:
        return self._call.task_run.id

    @property
    def state(self) -> State[R]:
        """The final state when done; otherwise the run's current Pending/Running state."""
        guard = enter_engine()
        try:
            future = self._future
            if future.done() and not future.cancelled() and future.exception() is None:
                return future.result()
            current: State[R] | None = self._call.state  # also a run ended by a BaseException
            return current if current is not None else State(StateType.PENDING)
        finally:
            leave_engine(guard)

    def wait(self, timeout: float | None = None) -> None:
        guard = enter_engine()
        try:
            self._steal()
            cf.wait([self._future], timeout=timeout)
        finally:
            leave_engine(guard)

    def done(self) -> bool:
        guard = enter_engine()
        try:
            return self._future.done()
        finally:
            leave_engine(guard)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        guard = enter_engine()
        try:
            self._steal()
            try:
                state = self._future.result(timeout=timeout)
            except cf.TimeoutError:
                raise TimeoutError(
                    f"Task run {self.task_run_id} did not complete within {timeout} seconds"
                ) from None
        finally:
            leave_engine(guard)
        value: R = state.result(raise_on_failure=raise_on_failure)
        return value

    def add_done_callback(self, fn: Callable[[PrefectFuture[R]], object]) -> None:
        guard = enter_engine()
        try:
            self._future.add_done_callback(lambda _: fn(self))
        finally:
            leave_engine(guard)

    def __repr__(self) -> str:
        return f"PrefectFuture(task_run={self._call.task_run.name!r}, state={self.state})"


#: Prefect's concrete class name for thread-pool futures.
PrefectConcurrentFuture = PrefectFuture


class PrefectFutureList(list[PrefectFuture[R]]):
    """What ``task.map`` returns: a list of futures with list-wide ``wait`` and ``result``."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        not_done = wait(self, timeout=timeout).not_done
        if not_done:
            raise TimeoutError(f"{len(not_done)} task run(s) did not complete within {timeout} s")
        return [f.result(raise_on_failure=raise_on_failure) for f in self]


class DoneAndNotDoneFutures(NamedTuple):
    done: set[PrefectFuture[Any]]
    not_done: set[PrefectFuture[Any]]


def wait(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> DoneAndNotDoneFutures:
    """Block until all futures are done or ``timeout`` passes; report which are which."""
    futures = list(futures)
    guard = enter_engine()
    try:
        for future in futures:
            future._steal()
        by_inner = {f._future: f for f in futures}
        done, not_done = cf.wait(by_inner, timeout=timeout)
    finally:
        leave_engine(guard)
    return DoneAndNotDoneFutures({by_inner[d] for d in done}, {by_inner[n] for n in not_done})


def as_completed(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> Iterator[PrefectFuture[Any]]:
    """Yield futures as they finish; ``TimeoutError`` if ``timeout`` passes first."""
    futures = list(futures)
    guard = enter_engine()
    try:
        for future in futures:
            future._steal()
        by_inner = {f._future: f for f in futures}
        finished = cf.as_completed(by_inner, timeout=timeout)
    finally:
        leave_engine(guard)
    while True:
        guard = enter_engine()
        try:
            inner = next(finished)
        except StopIteration:
            return
        except cf.TimeoutError:
            raise TimeoutError(f"Futures did not complete within {timeout} seconds") from None
        finally:
            leave_engine(guard)
        yield by_inner[inner]


# --- Traversal: futures and states inside what a task receives and a flow returns ------
#
# Prefect's rules (``prefect.utilities.collections.visit_collection``), specialised to
# what the engine looks for, so that the per-call cost stays small: atomic values and
# containers of them are recognised without a call per element, and a container is
# rebuilt only when something inside it changed (otherwise the very same object comes
# back, as in Prefect: a task called directly receives the caller's list, not a copy).
#
# Entered: lists, tuples, sets and their subclasses (rebuilt as ``type(x)(items)``, so a
# ``PrefectFutureList`` stays one and a named tuple of two or more fields cannot be
# rebuilt: Prefect fails the same way), dicts and their subclasses (keys too; rebuilt as
# ``type(x)(pairs)``, which a ``defaultdict`` refuses), dataclass instances (rebuilt with
# ``dataclasses.replace`` and every field, so ``__post_init__`` runs again and a field
# with ``init=False`` or an ``InitVar`` makes it fail), pydantic v2 models (rebuilt with
# ``model_construct``, keeping the fields set, extra fields and private attributes), and
# the annotations. Not entered: frozensets, generators and other iterators, mocks, and
# anything else. No depth limit; each object is visited once per traversal (a shared
# object is rebuilt once; a cycle leads back to the original).

_ATOMIC: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes})

# What each type of value is to the traversal, decided once per type with Prefect's
# isinstance checks, in Prefect's order (a mock before any container: one made with a
# spec passes isinstance checks for its spec).
_OTHER, _FUTURE, _STATE, _ANNOTATION, _SEQUENCE, _MAPPING, _DATACLASS, _MODEL = range(8)
_CATEGORIES: dict[type, int] = dict.fromkeys(_ATOMIC, _OTHER)
_MAX_CATEGORIES = 4096  # classes made at run time (one per mock, say) must not pile up


def _category(value: Any) -> int:
    kind = type(value)
    category = _CATEGORIES.get(kind)
    if category is not None:
        return category
    mock = sys.modules.get("unittest.mock")
    main = sys.modules.get("pydantic.main")  # not imported: no model can exist
    if isinstance(value, PrefectFuture):
        category = _FUTURE
    elif isinstance(value, State):
        category = _STATE
    elif mock is not None and isinstance(value, mock.Mock):
        return _OTHER  # not kept: every mock has a class of its own
    elif isinstance(value, BaseAnnotation):
        category = _ANNOTATION
    elif isinstance(value, (list, tuple, set)):
        category = _SEQUENCE
    elif isinstance(value, dict):
        category = _MAPPING
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        category = _DATACLASS
    elif main is not None and isinstance(value, main.BaseModel):
        category = _MODEL
    else:
        category = _OTHER
    if value.__class__ is kind:  # a proxy's isinstance answers depend on what it wraps
        if len(_CATEGORIES) >= _MAX_CATEGORIES:
            _CATEGORIES.clear()
            _CATEGORIES.update(dict.fromkeys(_ATOMIC, _OTHER))
        _CATEGORIES[kind] = category
    return category


#: ``leaf(future_or_state, allow_failed)``: what a leaf becomes.
Leaf = Callable[[Any, bool], Any]


class _Walk:
    """One traversal: what replaces a leaf, whether states are leaves too, whether
    annotations are removed (task arguments) or kept (flow returns), and the objects
    already seen."""

    __slots__ = ("leaf", "seen", "states", "unwrap")

    def __init__(self, leaf: Leaf, states: bool, unwrap: bool) -> None:
        self.leaf = leaf
        self.states = states
        self.unwrap = unwrap
        self.seen: dict[int, Any] = {}


def visit_futures(
    value: Any,
    on_future: Leaf,
    allow_failed: bool = False,
    *,
    states: bool = False,
    unwrap: bool = True,
) -> Any:
    """``value`` with every future in it replaced by ``on_future(future, allow_failed)``,
    by Prefect's traversal rules (see above), and then whatever that gave searched in turn.

    ``allow_failed`` is whether the nearest enclosing annotation is ``allow_failure``.
    ``states``: states are replaced too. ``unwrap``: annotations are replaced by their
    (visited) contents, as for task arguments; otherwise they stay, as in a flow's return
    value. ``quote`` stops the search either way: its contents come back untouched.
    """
    if type(value) in _ATOMIC or _category(value) == _OTHER:
        return value
    return _visit(value, _Walk(on_future, states, unwrap), allow_failed)


def _visit(value: Any, walk: _Walk, allow: bool) -> Any:
    category = _category(value)
    if category == _FUTURE or (category == _STATE and walk.states):
        value = walk.leaf(value, allow)
        category = _category(value)
    if category == _SEQUENCE:
        return _sequence(value, walk, allow)
    if category == _MAPPING:
        return _mapping(value, walk, allow)
    if category == _ANNOTATION:
        return _annotation(value, walk, allow)
    if category == _DATACLASS:
        return _dataclass(value, walk, allow)
    if category == _MODEL:
        return _model(value, walk, allow)
    return value


def _annotation(value: BaseAnnotation[Any], walk: _Walk, allow: bool) -> Any:
    inner = value.unwrap()
    if isinstance(value, quote):
        return inner if walk.unwrap else value
    visited = _visit(inner, walk, isinstance(value, allow_failure))
    if walk.unwrap:
        return visited
    return value if visited is inner else value.rewrap(visited)


def _sequence(value: Any, walk: _Walk, allow: bool) -> Any:
    if _ATOMIC.issuperset(map(type, value)):
        return value  # nothing to find, and no cycle possible
    seen = walk.seen
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = value
    items = [v if type(v) in _ATOMIC else _visit(v, walk, allow) for v in value]
    result = value
    if any(map(is_not, items, value)):
        kind = type(value)
        result = items if kind is list else kind(items)
    seen[key] = result
    return result


def _mapping(value: Any, walk: _Walk, allow: bool) -> Any:
    seen = walk.seen
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = value
    result = value
    if _ATOMIC.issuperset(map(type, value)):  # the usual keys: only values to visit
        values = [v if type(v) in _ATOMIC else _visit(v, walk, allow) for v in value.values()]
        if any(map(is_not, values, value.values())):
            result = type(value)(list(zip(value, values, strict=True)))
    else:  # each key, then its value, as Prefect visits them: k1, v1, k2, v2, ...
        flat = [
            x if type(x) in _ATOMIC else _visit(x, walk, allow)
            for pair in value.items()
            for x in pair
        ]
        if any(map(is_not, flat, chain.from_iterable(value.items()))):
            result = type(value)(list(zip(flat[::2], flat[1::2], strict=True)))
    seen[key] = result
    return result


def _dataclass(value: Any, walk: _Walk, allow: bool) -> Any:
    seen = walk.seen
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = value
    fields = dataclasses.fields(value)
    before = [getattr(value, f.name) for f in fields]
    after = [v if type(v) in _ATOMIC else _visit(v, walk, allow) for v in before]
    result = value
    if any(map(is_not, after, before)):
        changes = {f.name: v for f, v in zip(fields, after, strict=True)}
        result = dataclasses.replace(value, **changes)
    seen[key] = result
    return result


def _model(value: Any, walk: _Walk, allow: bool) -> Any:
    seen = walk.seen
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = value
    before = dict(value)  # the fields, and extra fields when the model allows them
    after = {k: v if type(v) in _ATOMIC else _visit(v, walk, allow) for k, v in before.items()}
    result = value
    if any(map(is_not, after.values(), before.values())):
        # model_construct: no validation (a model of futures would not validate as one of
        # their results), and it works for frozen models too.
        result = value.model_construct(_fields_set=value.model_fields_set, **after)
        for name in value.__private_attributes__:
            setattr(result, name, getattr(value, name))
    seen[key] = result
    return result


def _final_state(future: PrefectFuture[Any], allow_failed: bool) -> State[Any]:
    future.wait()
    return future.state


def resolve_futures_to_states(value: Any) -> Any:
    """Replace futures (also inside containers) by their final states, waiting for them,
    as Prefect does with what a flow returns: states already there stay, annotations stay
    (their contents are searched, except a ``quote``'s)."""
    return visit_futures(value, _final_state, unwrap=False)


def resolve_futures_to_results(value: Any) -> Any:
    """One task argument as the task receives it: futures and states (also inside
    containers) replaced by their results, annotations removed, a ``quote``'s contents
    untouched; ``UpstreamTaskError`` for an upstream that did not complete (a failed one
    inside ``allow_failure`` gives its exception instead).

    Prefect's function of this name replaces futures only and raises a plain
    ``Exception``; this one applies the rules of a task's arguments, which is what
    flowless uses it for (``flowless.utilities.engine.resolve_inputs_sync`` adds Prefect's
    error naming the parameter).
    """
    from flowless.utilities.engine import final_result

    return visit_futures(value, final_result, states=True)
