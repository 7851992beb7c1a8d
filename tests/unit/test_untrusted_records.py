"""Records can not be turned into code: the proof of issue 9, item 7, on both stores.

A flow run fails after a task completed with a pickled result; someone who can write the
store then replaces that result with a pickle that would create a file when loaded (the
SQLite file written with sqlite3, the DynamoDB item with ``UpdateItem``: what write
access to ``FLOWLESS_HOME`` or the table allows). Resuming the run must refuse it, say
which task run and why, load nothing, and leave the run as it was. A result location
outside the store's folder or bucket prefix is refused the same way. The DynamoDB runs
use the AWS backend in process (moto; task runs in this process), the results bucket and
the stack's signing secret.
"""

from __future__ import annotations

import base64
import pickle
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from infra.template import table_definition
from moto import mock_aws

from flowless import flow, task
from flowless.cache_policies import INPUTS
from flowless.engine import current_runtime, resume_flow_run
from flowless.engine._runtime import _runtimes, close_home
from flowless.exceptions import UntrustedPayloadError
from flowless.results import Signer
from flowless.states import StateType
from flowless.store import TaskRunRecord
from tests.aws import REGION, signing_secret
from tests.unit.test_signing import Plant

CALLS: list[int] = []
HALT = {"on": True}  # the first run stops after its task; a resume goes on


@task
def pair(n: int) -> tuple[int, int]:
    CALLS.append(n)
    return (n, n)  # a tuple: stored as a (signed) pickle


@flow
def halts(n: int) -> int:
    a, b = pair(n)
    if HALT["on"]:
        raise RuntimeError("stopped after the task")
    return a + b


@dataclass
class Backend:
    """One store, and the raw write access an attacker would have to it."""

    name: str
    home: Path
    client: Any = None  # boto3 DynamoDB client (dynamodb)
    table: str = ""
    bucket: str = ""

    def write_result(self, run: TaskRunRecord, data: bytes | None, location: str | None) -> None:
        """Replace a completed task run's result, bypassing flowless."""
        if self.name == "sqlite":
            close_home(self.home)  # the attacker's own connection, no flowless one open
            with sqlite3.connect(self.home / "flowless.db") as db:
                db.execute(
                    "UPDATE task_runs SET result_serializer = 'pickle', result = ?, "
                    "result_location = ? WHERE id = ?",
                    (data, location, run.id),
                )
            return
        key = {"pk": {"S": f"FLOWRUN#{run.flow_run_id}"}, "sk": {"S": f"TASKRUN#{run.id}"}}
        values: dict[str, Any] = {":s": {"S": "pickle"}}
        sets = ["result_serializer = :s"]
        removes = []
        for attribute, value in (("result", data), ("result_location", location)):
            if value is None:
                removes.append(f"#{attribute}")
            else:
                sets.append(f"#{attribute} = :{attribute}")
                values[f":{attribute}"] = {"B": value} if attribute == "result" else {"S": value}
        self.client.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression=f"SET {', '.join(sets)}"
            + (f" REMOVE {', '.join(removes)}" if removes else ""),
            ExpressionAttributeNames={"#result": "result", "#result_location": "result_location"},
            ExpressionAttributeValues=values,
        )


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(
    request: pytest.FixtureRequest, flowless_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    CALLS.clear()
    HALT["on"] = True
    if request.param == "sqlite":
        monkeypatch.setenv("FLOWLESS_BACKEND", "local")
        yield Backend("sqlite", flowless_home)
        return
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_INVOKER": "local",
        "FLOWLESS_TABLE": "state",
        "FLOWLESS_BUCKET": "results",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**table_definition("state"))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="results")
        s3.create_bucket(Bucket="elsewhere")
        signing_secret(monkeypatch)
        _runtimes.clear()
        yield Backend("dynamodb", flowless_home, client, "state", "results")
        _runtimes.clear()


def _failed_run_with_a_pickled_result() -> tuple[str, TaskRunRecord]:
    state = halts(3, return_state=True)
    assert state.is_failed() and CALLS == [3]
    HALT["on"] = False
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    store = current_runtime().store
    [done] = [r for r in store.read_task_runs(run_id) if isinstance(r, TaskRunRecord)]
    assert done.state_type is StateType.COMPLETED and done.result is not None
    assert done.result.serializer == "pickle"
    return run_id, done


def _still_failed(run_id: str) -> None:
    record = current_runtime().store.read_flow_run(run_id)
    assert (record.state_type, record.run_count) == (StateType.FAILED, 1)
    assert CALLS == [3]  # the task did not run again in the forged result's place


def test_resume_replays_a_genuine_signed_result(backend: Backend) -> None:
    """The control: the same steps without forgery resume and replay the result."""
    run_id, _ = _failed_run_with_a_pickled_result()
    assert resume_flow_run(halts, run_id) == 6
    assert CALLS == [3]


@pytest.mark.parametrize(
    ("sign", "reason"),
    [
        (lambda data: data, "is a pickle that is not signed"),
        (lambda data: Signer(b"x" * 32, "another").sign(data), "not signed with this store"),
    ],
    ids=["unsigned", "another-key"],
)
def test_a_forged_result_is_refused_and_runs_no_code(
    backend: Backend, tmp_path: Path, sign: Any, reason: str
) -> None:
    run_id, done = _failed_run_with_a_pickled_result()
    marker = tmp_path / "planted"
    payload = sign(cloudpickle.dumps(Plant(marker)))
    backend.write_result(done, payload, None)

    with pytest.raises(UntrustedPayloadError) as refused:
        resume_flow_run(halts, run_id)
    message = str(refused.value)
    assert message.startswith(f"The stored result of task run {done.name!r} ({done.id})")
    assert reason in message and "refusing to unpickle it" in message
    assert not marker.exists()
    _still_failed(run_id)
    # The forged payload is live: it is the check, not a dud, that kept the file away.
    pickle.loads(payload[-len(cloudpickle.dumps(Plant(marker))) :]).close()
    assert marker.exists()


def test_a_result_location_outside_the_store_is_refused(backend: Backend, tmp_path: Path) -> None:
    run_id, done = _failed_run_with_a_pickled_result()
    results = current_runtime().results
    # A genuine, signed result, put where the store never writes: refused all the same.
    signed = results.dump(("x" * 100_000,))
    assert signed.location is not None
    if backend.name == "sqlite":
        outside = tmp_path / "outside.pickle"
        outside.write_bytes(Path(signed.location).read_bytes())
        locations = [str(outside), str(Path(signed.location).parent / ".." / "outside.pickle")]
        place = "outside this store's results folder"
    else:
        s3 = boto3.client("s3", region_name=REGION)
        key = signed.location.removeprefix("s3://results/")
        body = s3.get_object(Bucket="results", Key=key)["Body"].read()
        s3.put_object(Bucket="elsewhere", Key=key, Body=body)
        s3.put_object(Bucket="results", Key="uploads/x.pickle", Body=body)
        locations = ["s3://elsewhere/" + key, "s3://results/uploads/x.pickle"]
        place = r"outside this store's results \(s3://results/results/"
    for location in locations:
        backend.write_result(done, None, location)
        with pytest.raises(UntrustedPayloadError, match=place) as refused:
            resume_flow_run(halts, run_id)
        assert repr(location) in str(refused.value)
        _still_failed(run_id)


def test_a_forged_cache_entry_is_replaced_not_loaded(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache hit is decided from the store too: a forged entry is refused with a
    warning, the task runs, and its signed result replaces the entry."""
    runs: list[int] = []

    @task(cache_policy=INPUTS)
    def cached(n: int) -> tuple[int]:
        runs.append(n)
        return (n,)

    @flow
    def uses_cache(n: int) -> tuple[int]:
        return cached(n)

    assert uses_cache(5) == (5,) and runs == [5]
    store = current_runtime().store
    [entry_key] = [
        r.cache_key
        for run in store.list_flow_runs()
        for r in store.read_task_runs(run.id)
        if isinstance(r, TaskRunRecord) and r.task_name == "cached"
    ]
    assert entry_key is not None
    marker = tmp_path / "planted"
    forged = base64.b64encode(cloudpickle.dumps(Plant(marker)))
    if backend.name == "sqlite":
        close_home(backend.home)
        with sqlite3.connect(backend.home / "flowless.db") as db:
            db.execute(
                "UPDATE cache_entries SET result = ? WHERE key = ?",
                (base64.b64decode(forged), entry_key),
            )
    else:
        backend.client.update_item(
            TableName=backend.table,
            Key={"pk": {"S": f"CACHE#{entry_key}"}, "sk": {"S": "CACHE"}},
            UpdateExpression="SET #r = :r",
            ExpressionAttributeNames={"#r": "result"},
            ExpressionAttributeValues={":r": {"B": base64.b64decode(forged)}},
        )
    capsys.readouterr()
    assert uses_cache(5) == (5,) and runs == [5, 5]
    assert not marker.exists()
    warning = capsys.readouterr().err  # the console handler: the run's own log
    assert "The cached result cannot be read (A stored value (inline," in warning
    assert "is a pickle that is not signed; refusing to unpickle it" in warning
    assert uses_cache(5) == (5,) and runs == [5, 5]  # the entry is signed again: a hit
