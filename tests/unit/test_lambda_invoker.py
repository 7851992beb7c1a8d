"""The Lambda invoker against botocore's Stubber: what each kind of answer becomes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from flowless.exceptions import ConfigurationError, RemoteTaskError, StoreUnavailableError
from flowless.invoke import LambdaInvoker, TaskCall
from flowless.invoke._wire import error_to_wire, payload_to_wire, task_reference
from flowless.results import LocalFileStorage, Results, Signer, local_signer
from flowless.states import StateType
from flowless.store import SQLiteStore, TaskRunRecord
from tests import aws_tasks


def _body(data: Any) -> StreamingBody:
    raw = json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    client = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = SQLiteStore(tmp_path / "s.db")
    results = Results(LocalFileStorage(tmp_path / "r"), 1024, local_signer(tmp_path))
    invoker = LambdaInvoker("task-run", client, store, results)
    invoker.THROTTLE_MAX_DELAY = 0.01
    yield invoker, Stubber(client), store, results
    store.close()


def _call() -> TaskCall:
    record = TaskRunRecord(
        id="tr-1",
        flow_run_id="fr-1",
        task_key=aws_tasks.add.task_key,
        dynamic_key=0,
        name="add-abc",
        task_name="add",
        state_type=StateType.PENDING,
        state_name="Pending",
    )
    return TaskCall(aws_tasks.add, {"a": 1, "b": 2}, record, "brave-otter", False)


def test_success_brings_back_the_result(setup: Any) -> None:
    invoker, stub, _, results = setup
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "Payload": _body(
                {
                    "state": {"type": "COMPLETED", "name": "Completed", "message": None},
                    "result": payload_to_wire(results.dump(3)),
                    "error": None,
                    "run_count": 1,
                }
            ),
        },
    )
    with stub:
        state = invoker.run(_call())
    assert state.is_completed() and state.result() == 3


def test_throttling_backs_off_and_retries(setup: Any) -> None:
    invoker, stub, _, results = setup
    for _ in range(3):
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "Payload": _body(
                {
                    "state": {"type": "COMPLETED", "name": "Completed", "message": None},
                    "result": payload_to_wire(results.dump("ok")),
                    "error": None,
                    "run_count": 1,
                }
            ),
        },
    )
    with stub:
        assert invoker.run(_call()).result() == "ok"
    assert invoker.invocations == 4


def test_task_failure_carries_the_original_exception(setup: Any) -> None:
    invoker, stub, _, _ = setup
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "Payload": _body(
                {
                    "state": {
                        "type": "FAILED",
                        "name": "Failed",
                        "message": "Task run encountered...",
                    },
                    "result": None,
                    "error": error_to_wire(KeyError("k"), invoker.results.signer),
                    "run_count": 1,
                }
            ),
        },
    )
    with stub:
        state = invoker.run(_call())
    with pytest.raises(KeyError):
        state.result()


def test_function_error_is_crashed_and_recorded(setup: Any) -> None:
    invoker, stub, store, _ = setup
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": _body({"errorMessage": "out of memory", "errorType": "Runtime.ExitError"}),
        },
    )
    with stub:
        state = invoker.run(_call())
    assert state.type is StateType.CRASHED
    assert state.message == "The task-run function failed: Runtime.ExitError: out of memory"
    with pytest.raises(RemoteTaskError, match=r"Runtime\.ExitError: out of memory"):
        state.result()
    [record] = store.read_task_runs("fr-1")
    assert isinstance(record, TaskRunRecord) and record.state_name == "Crashed"


def test_lambda_timeout_is_timed_out(setup: Any) -> None:
    invoker, stub, _, _ = setup
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": _body({"errorMessage": "Task timed out after 900.00 seconds"}),
        },
    )
    with stub:
        state = invoker.run(_call())
    assert (state.name, state.type) == ("TimedOut", StateType.FAILED)


def test_missing_function_says_how_to_create_it(setup: Any) -> None:
    invoker, stub, _, _ = setup
    stub.add_client_error("invoke", "ResourceNotFoundException", http_status_code=404)
    with stub, pytest.raises(StoreUnavailableError, match=r"'task-run' does not exist.*sam deploy"):
        invoker.run(_call())


def test_rejected_call_is_crashed_with_the_reason(setup: Any) -> None:
    invoker, stub, _, _ = setup
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": _body(
                {
                    "errorType": "MalformedTaskEventError",
                    "errorMessage": "Malformed task-run event: 'task' ...",
                }
            ),
        },
    )
    with stub:
        state = invoker.run(_call())
    assert state.type is StateType.CRASHED
    assert state.message == (
        "The task-run function failed: MalformedTaskEventError: "
        "Malformed task-run event: 'task' ..."
    )


def test_unserializable_parameters_fail_before_invoking(setup: Any) -> None:
    import threading

    invoker, stub, _, _ = setup
    call = _call()
    call.parameters = {"a": threading.Lock(), "b": 1}
    with stub:  # no response queued: an invocation would fail the test
        state = invoker.run(call)
    assert state.is_failed() and "cannot be sent to AWS Lambda" in (state.message or "")


def test_tasks_defined_in_functions_cannot_run_on_lambda() -> None:
    from flowless import task

    @task
    def local() -> None: ...

    with pytest.raises(ConfigurationError, match="must be defined at module level"):
        task_reference(local)
    assert task_reference(aws_tasks.add) == "tests.aws_tasks:add"


def test_aws_backend_names_missing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowless.engine import current_runtime

    monkeypatch.setenv("FLOWLESS_BACKEND", "aws")
    monkeypatch.setenv("FLOWLESS_TABLE", "t")
    with pytest.raises(ConfigurationError, match="needs FLOWLESS_BUCKET, FLOWLESS_TASK_FUNCTION"):
        current_runtime()
    monkeypatch.setenv("FLOWLESS_BACKEND", "azure")
    with pytest.raises(ConfigurationError, match="'azure' is not a backend"):
        current_runtime()


def test_a_huge_error_travels_without_its_pickle_and_with_its_message_cut() -> None:
    """A task-run response must stay under Lambda's 6 MB: the error is bounded."""
    from flowless.exceptions import RemoteTaskError
    from flowless.invoke._wire import MAX_ERROR_MESSAGE_CHARS, error_from_wire

    class Heavy(Exception):
        def __init__(self) -> None:
            super().__init__("x" * (10 * 1024 * 1024))

    signer = Signer(b"k" * 32, "the test key")
    wire = error_to_wire(Heavy(), signer)
    assert wire["pickled"] is None
    assert len(json.dumps(wire)) < 100 * 1024
    assert wire["message"].endswith(
        f"({10 * 1024 * 1024 - MAX_ERROR_MESSAGE_CHARS} more characters)"
    )
    rebuilt = error_from_wire(wire, signer)
    assert isinstance(rebuilt, RemoteTaskError)
    small = error_from_wire(error_to_wire(KeyError("k"), signer), signer)
    assert isinstance(small, KeyError)


def test_log_lines_that_are_not_what_the_function_writes_crash_the_run(setup: Any) -> None:
    invoker, stub, _, results = setup
    answer = {
        "state": {"type": "COMPLETED", "name": "Completed", "message": None},
        "result": payload_to_wire(results.dump(3)),
        "error": None,
        "run_count": 1,
        "logs": {"lines": [[20, 1.0, "no id"]], "cut": 0, "kept": False},
    }
    stub.add_response("invoke", {"StatusCode": 200, "Payload": _body(answer)})
    with stub:
        state = invoker.run(_call())
    assert state.type is StateType.CRASHED
    assert state.message == (
        "The task-run function answered something unreadable: a log line is "
        "[20, 1.0, 'no id'], not [id, level, time, message]"
    )


def test_log_lines_come_back_on_the_call(setup: Any) -> None:
    invoker, stub, _, results = setup
    answer = {
        "state": {"type": "COMPLETED", "name": "Completed", "message": None},
        "result": payload_to_wire(results.dump(3)),
        "error": None,
        "run_count": 1,
        "logs": {"lines": [["0001-1-1", 20, 1.5, "hello"]], "cut": 2, "kept": True},
    }
    stub.add_response("invoke", {"StatusCode": 200, "Payload": _body(answer)})
    call = _call()
    with stub:
        invoker.run(call)
    assert (call.remote_lines, call.remote_lines_cut, call.remote_lines_kept) == (
        [("0001-1-1", 20, 1.5, "hello")],
        2,
        True,
    )
