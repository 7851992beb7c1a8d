"""Tasks and flows as methods, as Prefect 3 runs them: instance methods (through an
instance, or through the class with the instance passed), classmethods and staticmethods
with the decorators in either order, and the bound object as an ordinary parameter
(part of the inputs and of an ``INPUTS`` cache key, never stored with a flow run)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flowless import flow, task
from flowless.cache_policies import INPUTS
from flowless.context import FlowRunContext
from flowless.engine import current_runtime, resume_flow_run
from flowless.exceptions import ParameterTypeError
from flowless.store import Store
from tests.conftest import log_lines

calls: list[Any] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def _flow_parameters() -> dict[str, Any]:
    ctx = FlowRunContext.get()
    assert ctx is not None
    return dict(ctx.parameters)


class Calc:
    def __init__(self, k: int) -> None:
        self.k = k

    @task
    def add(self, x: int) -> int:
        calls.append(("add", self.k, x))
        return self.k + x

    @task
    @classmethod
    def cm_outer(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @classmethod
    @task
    def cm_inner(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @task
    @staticmethod
    def sm_outer(x: int) -> int:
        return x * 2

    @staticmethod
    @task
    def sm_inner(x: int) -> int:
        return x * 3

    @task(cache_policy=INPUTS)
    def cached(self, x: int) -> int:
        calls.append(("cached", self.k, x))
        return self.k * x

    @flow
    def fl(self, y: int) -> int:
        calls.append(("fl", _flow_parameters()))
        return self.add(y)

    @flow
    @classmethod
    def cfl(cls, y: int) -> str:
        calls.append(("cfl", _flow_parameters()))
        return f"{cls.__name__}/{y}"

    @staticmethod
    @flow
    def sfl(y: int) -> int:
        return y + 100


class SubCalc(Calc):
    pass


def _task_runs(err: str) -> list[str]:
    """``name-xyz`` of every finished task run, in log order, with the suffix as ``*``."""
    found = []
    for line in log_lines(err):
        m = re.match(r"INFO \| Task run '([\w-]+?)(-[0-9a-f]{3})?' - Finished in state", line)
        if m:
            found.append(m.group(1) + ("-*" if m.group(2) else ""))
    return found


def test_instance_method_task_call_submit_map(capsys: pytest.CaptureFixture[str]) -> None:
    c = Calc(10)

    @flow
    def main() -> list[Any]:
        return [
            c.add(1),
            c.add(x=2),
            c.add.submit(3).result(),
            [f.result() for f in c.add.map([4, 5])],
            c.add(6, return_state=True).result(),
        ]

    assert main() == [11, 12, 13, [14, 15], 16]
    assert _task_runs(capsys.readouterr().err) == ["add-*"] * 6  # named after the function
    assert calls == [("add", 10, x) for x in range(1, 7)]


def test_instance_method_through_the_class_with_the_instance() -> None:
    c = Calc(10)
    assert c.add(1) == 11  # a bound read leaves nothing behind on the shared function
    assert Calc.add(c, 2) == 12
    assert Calc.add(Calc(5), 2) == 7
    assert Calc.add.submit(c, x=3).result() == 13


def test_each_instance_keeps_its_own_binding() -> None:
    a, b = Calc(1), Calc(100)

    @flow
    def main() -> list[int]:
        fa, fb = a.add.submit(1), b.add.submit(1)
        return [fa.result(), fb.result(), a.add(2), b.add(2)]

    assert main() == [2, 101, 3, 102]


def test_classmethod_tasks_either_decorator_order(capsys: pytest.CaptureFixture[str]) -> None:
    c = Calc(1)

    @flow
    def main() -> list[Any]:
        return [
            Calc.cm_outer(1),
            c.cm_outer(2),
            Calc.cm_outer.submit(3).result(),
            [f.result() for f in Calc.cm_outer.map([4, 5])],
            SubCalc.cm_outer(6),
            Calc.cm_inner(1),
            c.cm_inner(2),
            Calc.cm_inner.submit(3).result(),
            SubCalc(0).cm_inner(4),
        ]

    assert main() == [
        "Calc:1",
        "Calc:2",
        "Calc:3",
        ["Calc:4", "Calc:5"],
        "SubCalc:6",
        "Calc:1",
        "Calc:2",
        "Calc:3",
        "SubCalc:4",
    ]
    assert _task_runs(capsys.readouterr().err) == ["cm_outer-*"] * 6 + ["cm_inner-*"] * 4


def test_staticmethod_tasks_either_decorator_order() -> None:
    c = Calc(1)

    @flow
    def main() -> list[Any]:
        return [
            Calc.sm_outer(1),
            c.sm_outer(2),  # Prefect 3.4.25 binds the instance here and fails; we do not
            Calc.sm_outer.submit(3).result(),
            [f.result() for f in c.sm_outer.map([1, 2])],
            Calc.sm_inner(1),
            c.sm_inner(2),
            c.sm_inner.submit(3).result(),
        ]

    assert main() == [2, 4, 6, [2, 4], 3, 6, 9]


def test_method_tasks_outside_a_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert Calc(2).add(1) == 3
    assert Calc.cm_outer(1) == "Calc:1"
    assert _task_runs(capsys.readouterr().err) == ["add", "cm_outer"]


def test_identity_is_the_qualified_method() -> None:
    assert Calc.add.task_key.endswith(".Calc.add")
    assert Calc(1).add.task_key == Calc.add.task_key
    assert Calc.cm_outer.task_key.endswith(".Calc.cm_outer")
    assert Calc.fl.flow_key.endswith(".Calc.fl")
    assert (Calc.add.name, Calc.fl.name, Calc.cfl.name) == ("add", "fl", "cfl")


def test_self_is_a_parameter_and_part_of_the_cache_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = Calc(10)

    @flow
    def main() -> list[Any]:
        first = c.cached(2)
        again = c.cached(2, return_state=True)
        other = Calc(11).cached(2)
        return [first, str(again), again.result(), other]

    assert main() == [20, "Cached(type=COMPLETED)", 20, 22]
    assert calls == [("cached", 10, 2), ("cached", 11, 2)]


def test_task_parameters_include_self() -> None:
    seen: list[dict[str, Any]] = []

    def key(ctx: Any, arguments: dict[str, Any]) -> None:
        seen.append({**arguments, "context": dict(ctx.parameters)})

    class Box:
        @task(cache_key_fn=key)
        def get(self, n: int) -> int:
            return n

    box = Box()

    @flow
    def main() -> int:
        return box.get(1)

    assert main() == 1
    assert seen == [{"self": box, "n": 1, "context": {"self": box, "n": 1}}]


def test_bound_binding_survives_with_options() -> None:
    c = Calc(10)
    renamed = c.add.with_options(name="plus")
    assert renamed.name == "plus" and renamed(1) == 11
    assert Calc.cm_outer.with_options(retries=1)(5) == "Calc:5"


def test_instance_method_flow_top_level_and_subflow(store: Store) -> None:
    c = Calc(1)
    state = c.fl(3, return_state=True)
    assert state.result() == 4
    # The run's parameters include ``self`` while it runs, as Prefect's
    # ``flow_run.parameters`` do; the stored record leaves the instance out.
    assert calls[0] == ("fl", {"self": c, "y": 3})
    record = store.read_flow_run(state.state_details.flow_run_id)
    assert record.parameters is not None
    assert current_runtime().results.load(record.parameters) == {"y": 3}
    assert Calc.fl(c, 4) == 5  # through the class, the instance passed

    @flow
    def parent() -> list[Any]:
        return [c.fl(5), Calc.cfl(6), Calc.sfl(7), c.sfl(8)]

    assert parent() == [6, "Calc/6", 107, 108]


def test_classmethod_flow_parameters(store: Store) -> None:
    state = Calc(1).cfl(2, return_state=True)
    assert state.result() == "Calc/2"
    assert calls == [("cfl", {"cls": Calc, "y": 2})]
    record = store.read_flow_run(state.state_details.flow_run_id)
    assert record.parameters is not None
    assert current_runtime().results.load(record.parameters) == {"y": 2}


def test_method_flow_validates_its_parameters_but_not_self() -> None:
    c = Calc(1)
    assert c.fl("3") == 4  # coerced to int, as pydantic does
    with pytest.raises(ParameterTypeError) as info:
        c.fl("x")
    assert " - y: Input should be a valid integer" in str(info.value)
    assert "self" not in str(info.value)


class Loader:
    def __init__(self) -> None:
        self.broken = True

    @task
    def double(self, n: int) -> int:
        calls.append(("double", n))
        return n * 2

    @flow
    def load(self, n: int) -> int:
        value = self.double(n)
        if self.broken:
            raise RuntimeError("down")
        return value


def test_method_flow_resumes_on_the_instance_it_is_resumed_through() -> None:
    loader = Loader()
    state = loader.load(2, return_state=True)
    assert state.is_failed()
    loader.broken = False
    assert resume_flow_run(loader.load, state.state_details.flow_run_id) == 4
    assert calls == [("double", 2)]  # the completed call replayed from the journal
