"""``flowless.runtime``: the current run as module attributes, as ``prefect.runtime``.

Every expected value below was printed by real Prefect 3.4.25 (a probe that prints each
attribute of ``flow_run``, ``task_run`` and ``deployment`` as ``type repr``, in a flow, a
task, a subflow, outside any run, and in runs of served deployments); its output is
quoted beside each test. Ids and names are random in both, so they are compared to the
run's own.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import flowless.runtime
from flowless import flow, task
from flowless.context import TaskRunContext, _task_run, tags
from flowless.deployments import _serve, run_deployment
from flowless.deployments._definition import definition_from_flow
from flowless.engine import current_runtime
from flowless.runtime import deployment, flow_run, task_run
from flowless.store import TaskRunRecord

MODULES = {"flow_run": flow_run, "task_run": task_run, "deployment": deployment}


def snapshot() -> dict[str, Any]:
    """Every attribute of the three modules, as ``module.name``."""
    return {
        f"{short}.{name}": getattr(module, name)
        for short, module in MODULES.items()
        for name in module.__all__
    }


def test_names_and_their_order_are_prefects() -> None:
    # all ['id', 'tags', 'scheduled_start_time', 'name', 'flow_name', 'flow_version',
    #      'parameters', 'parent_flow_run_id', 'parent_deployment_id', 'root_flow_run_id',
    #      'run_count', 'api_url', 'ui_url', 'job_variables']
    # dir ['api_url', 'flow_name', 'flow_version', 'id', 'job_variables', 'name',
    #      'parameters', 'parent_deployment_id', 'parent_flow_run_id', 'root_flow_run_id',
    #      'run_count', 'scheduled_start_time', 'tags', 'ui_url']
    # all ['id', 'tags', 'name', 'parameters', 'run_count', 'task_name', 'api_url', 'ui_url']
    # dir ['api_url', 'id', 'name', 'parameters', 'run_count', 'tags', 'task_name', 'ui_url']
    # all ['id', 'flow_run_id', 'name', 'parameters', 'version']
    # dir ['flow_run_id', 'id', 'name', 'parameters', 'version']
    assert flow_run.__all__ == [
        "id",
        "tags",
        "scheduled_start_time",
        "name",
        "flow_name",
        "flow_version",
        "parameters",
        "parent_flow_run_id",
        "parent_deployment_id",
        "root_flow_run_id",
        "run_count",
        "api_url",
        "ui_url",
        "job_variables",
    ]
    assert task_run.__all__ == [
        "id",
        "tags",
        "name",
        "parameters",
        "run_count",
        "task_name",
        "api_url",
        "ui_url",
    ]
    assert deployment.__all__ == ["id", "flow_run_id", "name", "parameters", "version"]
    for module in MODULES.values():
        assert dir(module) == sorted(module.__all__)
        assert not set(module.__all__) & set(vars(module))  # all read at access time
    assert flowless.runtime.__all__ == ["deployment", "flow_run", "task_run"]
    from flowless.runtime.flow_run import id as imported  # PEP 562 imports work

    assert imported is None


def test_outside_any_run() -> None:
    # OUTSIDE flow_run.id: NoneType None
    # OUTSIDE flow_run.tags: list []
    # OUTSIDE flow_run.scheduled_start_time: DateTime <pendulum.datetime.DateTime tz=...UTC>
    # OUTSIDE flow_run.name / flow_name / flow_version: NoneType None
    # OUTSIDE flow_run.parameters: dict {}
    # OUTSIDE flow_run.parent_flow_run_id / parent_deployment_id / root_flow_run_id: None
    # OUTSIDE flow_run.run_count: int 0
    # OUTSIDE flow_run.api_url / ui_url / job_variables: NoneType None
    # OUTSIDE task_run.id: None, tags: [], name: None, parameters: {}, run_count: 0,
    #         task_name: None, api_url: None, ui_url: None
    # OUTSIDE deployment.id / flow_run_id / name: None, parameters: {}, version: None
    before = datetime.now(timezone.utc)
    values = snapshot()
    now = values.pop("flow_run.scheduled_start_time")
    assert isinstance(now, datetime) and now.tzinfo is timezone.utc
    assert before <= now <= datetime.now(timezone.utc)
    assert values == {
        "flow_run.id": None,
        "flow_run.tags": [],
        "flow_run.name": None,
        "flow_run.flow_name": None,
        "flow_run.flow_version": None,
        "flow_run.parameters": {},
        "flow_run.parent_flow_run_id": None,
        "flow_run.parent_deployment_id": None,
        "flow_run.root_flow_run_id": None,
        "flow_run.run_count": 0,
        "flow_run.api_url": None,
        "flow_run.ui_url": None,
        "flow_run.job_variables": None,
        "task_run.id": None,
        "task_run.tags": [],
        "task_run.name": None,
        "task_run.parameters": {},
        "task_run.run_count": 0,
        "task_run.task_name": None,
        "task_run.api_url": None,
        "task_run.ui_url": None,
        "deployment.id": None,
        "deployment.flow_run_id": None,
        "deployment.name": None,
        "deployment.parameters": {},
        "deployment.version": None,
    }
    # prefect.runtime.deployment has no attribute 'nothing'
    with pytest.raises(
        AttributeError, match=r"^flowless.runtime.flow_run has no attribute 'nope'$"
    ):
        _ = flow_run.nope


# The flows and tasks of the Prefect probe, with its output:
#
# FLOW flow_run.tags: list ['outer']                 (called inside ``with tags("outer")``)
# FLOW flow_run.flow_version: str 'cd5e850d10ae7af136d5f9c5cb615648'  (md5 of the file)
# FLOW flow_run.parameters: dict {'a': 1, 'b': 'dflt'}
# FLOW flow_run.parent_flow_run_id: NoneType None
# FLOW flow_run.root_flow_run_id: str '<its own id>'
# FLOW flow_run.run_count: int 1
# FLOW flow_run.api_url: str 'None/flow-runs/flow-run/<id>'  (temporary server: no URL)
# FLOW flow_run.job_variables: dict {}
# FLOW task_run.*: as outside;  FLOW deployment.*: as outside
# TASK flow_run.*: those of its flow run, as FLOW
# TASK task_run.tags: list ['outer', 't1']
# TASK task_run.name: str 'work-3'
# TASK task_run.parameters: dict {'x': 3, 'y': 5}
# TASK task_run.run_count: int 2                     (its first attempt raised)
# TASK task_run.task_name: str 'work'
# TASK task_run.api_url: NoneType None
# CHILD flow_run.tags: list ['outer']
# CHILD flow_run.flow_name: str 'child'
# CHILD flow_run.flow_version: str 'v9'
# CHILD flow_run.parameters: dict {'z': 0}
# CHILD flow_run.parent_flow_run_id: str '<the parent's id>'
# CHILD flow_run.parent_deployment_id: NoneType None
# CHILD flow_run.root_flow_run_id: str '<the parent's id>'
# CHILD task_run.*: as outside


@task(tags=["t1"], retries=1, task_run_name="work-{x}")
def work(x: int, y: int = 5) -> dict[str, Any]:
    if task_run.run_count == 1:
        raise ValueError("once")
    return snapshot()


@flow(version="v9")
def child(z: int = 0) -> dict[str, Any]:
    return snapshot()


@flow
def parent(a: int, b: str = "dflt") -> tuple[dict[str, Any], ...]:
    return snapshot(), work(3), child()


def test_in_a_flow_its_task_and_its_subflow() -> None:
    with tags("outer"):
        started = datetime.now(timezone.utc)
        in_flow, in_task, in_child = parent(1)
    run_id = in_flow["flow_run.id"]
    assert isinstance(run_id, str)
    record = current_runtime().store.read_flow_run(run_id)
    this_file = hashlib.md5(Path(__file__).read_bytes(), usedforsecurity=False).hexdigest()
    flow_part = {
        "flow_run.id": run_id,
        "flow_run.tags": ["outer"],
        "flow_run.name": record.name,
        "flow_run.flow_name": "parent",
        "flow_run.flow_version": this_file,
        "flow_run.parameters": {"a": 1, "b": "dflt"},
        "flow_run.parent_flow_run_id": None,
        "flow_run.parent_deployment_id": None,
        "flow_run.root_flow_run_id": run_id,
        "flow_run.run_count": 1,
        "flow_run.api_url": None,  # no API server: no URL (Prefect's would be one)
        "flow_run.ui_url": None,
        "flow_run.job_variables": {},
    }
    outside_task = {
        "task_run.id": None,
        "task_run.tags": [],
        "task_run.name": None,
        "task_run.parameters": {},
        "task_run.run_count": 0,
        "task_run.task_name": None,
        "task_run.api_url": None,
        "task_run.ui_url": None,
    }
    no_deployment = {
        "deployment.id": None,
        "deployment.flow_run_id": None,
        "deployment.name": None,
        "deployment.parameters": {},
        "deployment.version": None,
    }
    scheduled = in_flow.pop("flow_run.scheduled_start_time")
    assert scheduled == datetime.fromtimestamp(record.created, tz=timezone.utc)
    assert started - timedelta(seconds=1) <= scheduled <= datetime.now(timezone.utc)
    assert in_flow == {**flow_part, **outside_task, **no_deployment}

    assert in_task.pop("flow_run.scheduled_start_time") == scheduled
    task_id = in_task["task_run.id"]
    assert isinstance(task_id, str) and task_id != run_id
    assert in_task == {
        **flow_part,
        "task_run.id": task_id,
        "task_run.tags": ["outer", "t1"],
        "task_run.name": "work-3",
        "task_run.parameters": {"x": 3, "y": 5},
        "task_run.run_count": 2,
        "task_run.task_name": "work",
        "task_run.api_url": None,
        "task_run.ui_url": None,
        **no_deployment,
    }

    child_id = in_child["flow_run.id"]
    child_record = current_runtime().store.read_flow_run(child_id)
    assert in_child.pop("flow_run.scheduled_start_time") == datetime.fromtimestamp(
        child_record.created, tz=timezone.utc
    )
    assert in_child == {
        **flow_part,
        "flow_run.id": child_id,
        "flow_run.name": child_record.name,
        "flow_run.flow_name": "child",
        "flow_run.flow_version": "v9",
        "flow_run.parameters": {"z": 0},
        "flow_run.parent_flow_run_id": run_id,
        "flow_run.root_flow_run_id": run_id,
        **outside_task,
        **no_deployment,
    }


def test_a_task_called_outside_a_flow() -> None:
    """Prefect answers ``flow_run.id == 'None'`` here and raises ``ObjectNotFound`` for the
    other ``flow_run`` attributes (it asks its API for flow run ``None``); flowless gives
    the values of no flow run. The task run's own are Prefect's:

    LONETASK task_run.tags: list [] / name: str 'lone' / parameters: dict {'x': 1} /
    run_count: int 1 / task_name: str 'lone' / api_url: NoneType None
    """

    @task
    def lone(x: int) -> dict[str, Any]:
        return snapshot()

    seen = lone(1)
    assert isinstance(seen.pop("task_run.id"), str)
    assert isinstance(seen.pop("flow_run.scheduled_start_time"), datetime)
    assert {k: v for k, v in seen.items() if k.startswith("task_run.")} == {
        "task_run.tags": [],
        "task_run.name": "lone",
        "task_run.parameters": {"x": 1},
        "task_run.run_count": 1,
        "task_run.task_name": "lone",
        "task_run.api_url": None,
        "task_run.ui_url": None,
    }
    assert seen["flow_run.id"] is None and seen["flow_run.run_count"] == 0
    assert seen["deployment.id"] is None


def test_a_task_run_whose_flow_run_is_elsewhere_reads_it_from_the_store() -> None:
    """In the task-run Lambda a task runs without its flow run's context: as Prefect (which
    asks its API), the runtime reads the flow run by the task run's ``flow_run_id``."""

    @flow(flow_run_name="far-away")
    def far(n: int, m: int = 2) -> str | None:
        return flow_run.id

    run_id = far(1)
    assert isinstance(run_id, str)

    @task
    def remote() -> None: ...

    record = TaskRunRecord("t-1", run_id, "remote", 0, "remote-t1", "remote", *_running())
    token = _task_run.set(TaskRunContext(remote, record, {}, _logger(), False))
    try:
        assert (flow_run.id, flow_run.name, flow_run.flow_name) == (run_id, "far-away", "far")
        assert flow_run.parameters == {"n": 1, "m": 2}
        assert flow_run.root_flow_run_id == run_id and flow_run.job_variables == {}
        assert task_run.name == "remote-t1"
    finally:
        _task_run.reset(token)


def _running() -> tuple[Any, str]:
    from flowless.states import StateType

    return StateType.RUNNING, "Running"


def _logger() -> Any:
    from flowless.engine._task_run import task_run_logger

    return task_run_logger(TaskRunRecord("t-1", None, "k", 0, "n", "n", *_running()), "n")


# A served deployment under Prefect (``serve(depflow.to_deployment(name="dep",
# parameters={"a": 1}, tags=["dtag"]), depflow.to_deployment(name="dep2", version="dv2",
# parameters={"b": "bb"}))``, then ``run_deployment("depflow/dep", parameters={"b":
# "given"})`` and ``run_deployment("depflow/dep", parameters={"nest": True})``, whose run
# calls task ``t``, subflow ``sub`` and ``run_deployment("depflow/dep2", parameters={"a":
# 5})``):
#
# DEP flow_run.tags: list ['dtag']
# DEP flow_run.flow_version: str 'fv1'
# DEP flow_run.parameters: dict {'a': 1, 'b': 'given', 'nest': False}
# DEP flow_run.parent_flow_run_id: NoneType None / parent_deployment_id: NoneType None
# DEP flow_run.root_flow_run_id: str '9e77fb3a-...'            (its own id)
# DEP flow_run.job_variables: dict {}
# DEP deployment.id: str '3fc99c57-...'
# DEP deployment.flow_run_id: str '9e77fb3a-...'               (its own id)
# DEP deployment.name: str 'dep'
# DEP deployment.parameters: dict {'a': 1, 'b': 'given'}
# DEP deployment.version: str 'fv1'                            (the flow's version)
# DEPTASK deployment.*: those of its flow run, as DEPNEST
# SUB flow_run.tags: list []
# SUB flow_run.parameters: dict {}
# SUB flow_run.parent_flow_run_id: str '51f0e0c9-...'          (the DEPNEST run)
# SUB flow_run.parent_deployment_id: str '3fc99c57-...'        (dep)
# SUB flow_run.root_flow_run_id: str '51f0e0c9-...'
# SUB deployment.id: str '3fc99c57-...' / flow_run_id: str '51f0e0c9-...' / name: 'dep'
# SUB deployment.parameters: dict {'a': 1, 'nest': True} / version: str 'fv1'
# DEP (dep2, started by the DEPNEST run):
# DEP flow_run.tags: list []
# DEP flow_run.parameters: dict {'a': 5, 'b': 'bb', 'nest': False}
# DEP flow_run.parent_flow_run_id: str '51f0e0c9-...'
# DEP flow_run.parent_deployment_id: str '3fc99c57-...'
# DEP flow_run.root_flow_run_id: str '51f0e0c9-...'
# DEP deployment.id: str 'a6a94051-...' / flow_run_id: its own id / name: str 'dep2'
# DEP deployment.parameters: dict {'b': 'bb', 'a': 5}

seen_in: dict[str, dict[str, Any]] = {}


@task
def t(x: int) -> None:
    seen_in["task"] = snapshot()


@flow
def sub() -> None:
    seen_in["sub"] = snapshot()


@flow(version="fv1")
def depflow(a: int, b: str = "bee", nest: bool = False) -> None:
    seen_in["nest" if nest else f"run-{a}"] = snapshot()
    if nest:
        t(1)
        sub()
        run_deployment("depflow/dep2", parameters={"a": 5}, timeout=0)


def _serve_once(runner: _serve.Runner) -> None:
    runner.start_due(time.time())
    runner.wait_for_runs()


def test_runs_of_a_served_deployment() -> None:
    runner = _serve.Runner(
        [
            (
                definition_from_flow(depflow, name="dep", parameters={"a": 1}, tags=("dtag",)),
                depflow,
            ),
            (definition_from_flow(depflow, name="dep2", parameters={"b": "bb"}), depflow),
        ]
    )
    runner.register()
    store = current_runtime().store
    dep_id = runner.service.get("depflow/dep").id
    dep2_id = runner.service.get("depflow/dep2").id

    first = run_deployment("depflow/dep", parameters={"b": "given"}, timeout=0)
    _serve_once(runner)
    seen = seen_in.pop("run-1")
    assert seen.pop("flow_run.scheduled_start_time") == datetime.fromtimestamp(
        store.read_flow_run(first.id).scheduled_start_time or 0, tz=timezone.utc
    )
    assert seen == {
        "flow_run.id": first.id,
        "flow_run.tags": ["dtag"],
        "flow_run.name": first.name,
        "flow_run.flow_name": "depflow",
        "flow_run.flow_version": "fv1",
        "flow_run.parameters": {"a": 1, "b": "given", "nest": False},
        "flow_run.parent_flow_run_id": None,
        "flow_run.parent_deployment_id": None,
        "flow_run.root_flow_run_id": first.id,
        "flow_run.run_count": 1,
        "flow_run.api_url": None,
        "flow_run.ui_url": None,
        "flow_run.job_variables": {},
        "task_run.id": None,
        "task_run.tags": [],
        "task_run.name": None,
        "task_run.parameters": {},
        "task_run.run_count": 0,
        "task_run.task_name": None,
        "task_run.api_url": None,
        "task_run.ui_url": None,
        "deployment.id": dep_id,
        "deployment.flow_run_id": first.id,
        "deployment.name": "dep",
        "deployment.parameters": {"a": 1, "b": "given"},
        "deployment.version": "fv1",
    }

    nest = run_deployment("depflow/dep", parameters={"nest": True}, timeout=0)
    _serve_once(runner)  # runs the nesting run, which asks for a run of dep2
    _serve_once(runner)  # runs that one
    of_dep = {
        "deployment.id": dep_id,
        "deployment.flow_run_id": nest.id,
        "deployment.name": "dep",
        "deployment.parameters": {"a": 1, "nest": True},
        "deployment.version": "fv1",
    }
    for where in ("nest", "task", "sub"):
        assert {k: v for k, v in seen_in[where].items() if k.startswith("deployment.")} == of_dep
    in_sub = seen_in["sub"]
    assert in_sub["flow_run.tags"] == [] and in_sub["flow_run.parameters"] == {}
    assert in_sub["flow_run.parent_flow_run_id"] == nest.id
    assert in_sub["flow_run.parent_deployment_id"] == dep_id
    assert in_sub["flow_run.root_flow_run_id"] == nest.id
    assert seen_in["task"]["flow_run.id"] == nest.id

    in_dep2 = seen_in.pop("run-5")
    assert in_dep2["flow_run.tags"] == []
    assert in_dep2["flow_run.parameters"] == {"a": 5, "b": "bb", "nest": False}
    assert in_dep2["flow_run.parent_flow_run_id"] == nest.id
    assert in_dep2["flow_run.parent_deployment_id"] == dep_id
    assert in_dep2["flow_run.root_flow_run_id"] == nest.id
    assert in_dep2["deployment.id"] == dep2_id
    assert in_dep2["deployment.flow_run_id"] == in_dep2["flow_run.id"]
    assert in_dep2["deployment.name"] == "dep2"
    assert list(in_dep2["deployment.parameters"].items()) == [("b", "bb"), ("a", 5)]


def test_a_built_deployments_version_is_its_code_hash() -> None:
    """flowless.yaml has no ``version`` field: ``flowless build`` records the code's hash
    in the manifest, and that is the deployment's version."""
    versions: list[Any] = []

    @flow
    def built() -> None:
        versions.append((deployment.version, flow_run.flow_version))

    definition = definition_from_flow(built, name="prod", code_hash="c0ffee")
    runner = _serve.Runner([(definition, built)])
    runner.register()
    run_deployment("built/prod", timeout=0)
    _serve_once(runner)
    this_file = hashlib.md5(Path(__file__).read_bytes(), usedforsecurity=False).hexdigest()
    assert versions == [("c0ffee", this_file)]


def test_environment_variables_stand_in_for_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's mocks (same names, and ``FLOWLESS__`` ones that win over them). Prefect:

    PREFECT__RUNTIME__FLOW_RUN__NAME=mocked, ..._RUN_COUNT=7, TASK_RUN__EXTRA=xtra:
    mock name 'mocked' run_count 7 'xtra'
    PREFECT__RUNTIME__FLOW_RUN__PARAMETERS={}: raises ValueError This runtime context
    attribute cannot be mocked using an environment variable. Please use monkeypatch instead.
    PREFECT__RUNTIME__FLOW_RUN__ID=abc: str 'abc'; TASK_RUN__RUN_COUNT=3: int 3;
    DEPLOYMENT__NAME=dn: str 'dn'; FLOW_RUN__NEW_THING=nt: str 'nt'
    """
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__NAME", "mocked")
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__RUN_COUNT", "7")
    monkeypatch.setenv("PREFECT__RUNTIME__TASK_RUN__EXTRA", "xtra")
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__ID", "abc")
    monkeypatch.setenv("PREFECT__RUNTIME__TASK_RUN__RUN_COUNT", "3")
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__NAME", "dn")
    assert (flow_run.name, flow_run.run_count, task_run.extra) == ("mocked", 7, "xtra")
    assert (flow_run.id, task_run.run_count, deployment.name) == ("abc", 3, "dn")
    monkeypatch.setenv("FLOWLESS__RUNTIME__FLOW_RUN__NAME", "ours")
    monkeypatch.setenv("FLOWLESS__RUNTIME__DEPLOYMENT__VERSION", "v2")
    assert (flow_run.name, deployment.version) == ("ours", "v2")
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__PARAMETERS", "{}")
    with pytest.raises(ValueError, match="cannot be mocked using an environment variable"):
        _ = flow_run.parameters
    # Prefect's cast for this one never matches (its value is a pendulum DateTime, its
    # table has ``datetime``), so it raises; flowless parses ISO 8601, naive as UTC.
    monkeypatch.setenv("FLOWLESS__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", "2024-01-02T03:04:05")
    assert flow_run.scheduled_start_time == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    @flow
    def mocked_inside() -> tuple[Any, ...]:
        return flow_run.name, flow_run.run_count

    assert mocked_inside() == ("ours", 7)  # the real values are cast to their types


def generate_flow_run_name() -> str:
    return f"{flow_run.flow_name}-with-{flow_run.parameters['name']}"


def generate_task_run_name() -> str:
    return f"{task_run.task_name}-on-{task_run.parameters['x']}"


@task(task_run_name=generate_task_run_name, tags=["t1"])
def named_work(x: int) -> dict[str, Any]:
    return {
        "task": (task_run.name, task_run.task_name, task_run.run_count, task_run.tags),
        "flow": (flow_run.name, flow_run.flow_name, flow_run.parameters),
    }


@flow(flow_run_name=generate_flow_run_name)
def my_flow(name: str, limit: int = 3) -> dict[str, Any]:
    return named_work(7)


def test_inside_runs_and_in_name_callables() -> None:
    result = my_flow("marvin")
    assert result["task"] == ("named_work-on-7", "named_work", 1, ["t1"])
    assert result["flow"] == ("my-flow-with-marvin", "my-flow", {"name": "marvin", "limit": 3})


def test_a_subflow_being_named_sees_its_parent() -> None:
    def subflow_name() -> str:
        return f"{flow_run.flow_name}-under-{flow_run.root_flow_run_id}"

    @flow(flow_run_name=subflow_name)
    def inner() -> str | None:
        return flow_run.name

    @flow
    def outer() -> tuple[str | None, str | None]:
        return flow_run.id, inner()

    outer_id, inner_name = outer()
    assert inner_name == f"inner-under-{outer_id}"
