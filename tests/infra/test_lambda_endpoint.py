"""The local Lambda endpoint answers boto3's ``lambda.invoke`` as Lambda does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from flowless.localcloud.lambda_endpoint import FunctionSpec, LambdaEndpoint

REPO = Path(__file__).resolve().parents[2]

HANDLERS = """
import json, os, time

def echo(event, context):
    return {
        "event": event,
        "pid": os.getpid(),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in (
            "GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_PROFILE", "CALLER_SECRET",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        )},
    }

def boom(event, context):
    raise KeyError("no such thing")

def slow(event, context):
    time.sleep(event.get("seconds", 30))
    return "done"

def die(event, context):
    os._exit(3)

def big(event, context):
    return "x" * (7 * 1024 * 1024)

def shout(event, context):
    import sys
    print("to stdout", event["n"], flush=True)
    print("to stderr", event["n"], file=sys.stderr, flush=True)
    return event["n"]

def touch(event, context):
    time.sleep(0.2)
    with open(event["path"], "w") as f:
        f.write("ran")
    return None
"""


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("code")
    (directory / "fns.py").write_text(HANDLERS)
    (directory / "broken.py").write_text("import no_such_module_anywhere\n")
    (directory / "slow_init.py").write_text(
        "import time\ntime.sleep(1.5)\ndef handler(event, context):\n    return 'ready'\n"
    )
    return directory


@pytest.fixture(scope="module")
def function_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "logged.log"


@pytest.fixture(scope="module")
def endpoint(code: Path, function_log: Path) -> Iterator[LambdaEndpoint]:
    os.environ["CALLER_SECRET"] = "must not leak"
    paths = (str(code),)
    specs = [
        FunctionSpec("echo", "fns.echo", paths, memory_mb=256, environment={"GREETING": "hi"}),
        FunctionSpec("boom", "fns.boom", paths),
        FunctionSpec("slow", "fns.slow", paths, timeout=1.0),
        FunctionSpec("die", "fns.die", paths),
        FunctionSpec("touch", "fns.touch", paths),
        FunctionSpec("broken", "broken.handler", paths),
        FunctionSpec("narrow", "fns.slow", paths, concurrency=1, throttle=True),
        FunctionSpec("queued", "fns.touch", paths, concurrency=1, throttle=True),
        FunctionSpec("slow_init", "slow_init.handler", paths, timeout=1.0),
        FunctionSpec("big", "fns.big", paths),
        FunctionSpec("logged", "fns.shout", paths, log_path=str(function_log)),
    ]
    server = LambdaEndpoint(specs).start()
    try:
        yield server
    finally:
        server.stop()
        os.environ.pop("CALLER_SECRET", None)


@pytest.fixture(scope="module")
def client(endpoint: LambdaEndpoint) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )


def _invoke(client: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[Any, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def test_request_response_with_context_and_the_functions_own_environment(client: Any) -> None:
    response, body = _invoke(client, "echo", {"x": [1, 2]})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert body["event"] == {"x": [1, 2]}
    assert (body["function_name"], body["memory"]) == ("echo", 256)
    assert 0 < body["remaining_ms"] <= 30_000
    assert body["env"] == {
        "GREETING": "hi",
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
        "AWS_PROFILE": None,
        "CALLER_SECRET": None,  # the caller's environment does not leak in
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    }


def test_an_environment_stays_warm_between_calls(client: Any) -> None:
    pids = {_invoke(client, "echo")[1]["pid"] for _ in range(3)}
    assert len(pids) == 1


def test_an_arn_names_the_function_too(client: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert _invoke(client, arn, {"a": 1})[1]["event"] == {"a": 1}


def test_an_unhandled_error_is_a_function_error(client: Any) -> None:
    response, body = _invoke(client, "boom")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("KeyError", "'no such thing'")
    assert any("no such thing" in line for line in body["stackTrace"])


def test_a_timeout_kills_the_environment_and_the_next_call_gets_a_new_one(client: Any) -> None:
    started = time.monotonic()
    response, body = _invoke(client, "slow", {"seconds": 30})
    assert time.monotonic() - started < 20
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": "Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    response, body = _invoke(client, "slow", {"seconds": 0})
    assert (response.get("FunctionError"), body) == (None, "done")


def test_a_runtime_that_exits_is_reported(client: Any) -> None:
    response, body = _invoke(client, "die")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"


def test_an_import_error_answers_every_call(client: Any) -> None:
    for _ in range(2):
        response, body = _invoke(client, "broken")
        assert response["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.ImportModuleError"
        assert "no_such_module_anywhere" in body["errorMessage"]


def test_event_invocations_return_202_and_run_later(client: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    response = client.invoke(
        FunctionName="touch", InvocationType="Event", Payload=json.dumps({"path": str(marker)})
    )
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "ran"


def test_dry_run(client: Any) -> None:
    assert client.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204


def test_unknown_function_and_bad_payload_are_client_errors(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="nope"):
        client.invoke(FunctionName="nope", Payload=b"{}")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")


def test_reserved_concurrency_throttles(client: Any, endpoint: LambdaEndpoint) -> None:
    busy = threading.Thread(target=_invoke, args=(client, "narrow", {"seconds": 1.5}))
    before = endpoint.counts()["narrow"]
    busy.start()
    try:
        deadline = time.monotonic() + 10
        while endpoint.counts()["narrow"] == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the first call holds the only environment for 1.5 s
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.invoke(FunctionName="narrow", Payload=json.dumps({"seconds": 0}))
    finally:
        busy.join()
    assert endpoint.counts()["narrow"] == before + 2


def test_a_caller_script_needs_no_main_guard(code: Path, tmp_path: Path) -> None:
    """Workers are programs of their own, not ``multiprocessing`` children that re-import
    the caller's ``__main__``: a plain script can start the endpoint at top level."""
    script = tmp_path / "plain.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys
            sys.path.insert(0, {str(REPO)!r})
            import boto3
            from flowless.localcloud.lambda_endpoint import FunctionSpec, LambdaEndpoint
            server = LambdaEndpoint([FunctionSpec("echo", "fns.echo", ({str(code)!r},))]).start()
            client = boto3.client("lambda", endpoint_url=server.url, region_name="us-east-1",
                                  aws_access_key_id="t", aws_secret_access_key="t")
            answer = client.invoke(FunctionName="echo", Payload=b'{{"n": 7}}')
            body = json.loads(answer["Payload"].read())
            server.stop()
            print("EVENT", json.dumps(body["event"]))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == 'EVENT {"n": 7}'


def test_the_init_phase_does_not_count_against_the_timeout(client: Any) -> None:
    """The handler's module takes 1.5 s to import, the function's timeout is 1 s: Lambda
    gives init its own limit, so the call succeeds."""
    response, body = _invoke(client, "slow_init")
    assert (response.get("FunctionError"), body) == (None, "ready")


def test_a_throttled_event_waits_for_an_environment_and_runs(
    client: Any, endpoint: LambdaEndpoint, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for marker in (first, second):  # the second arrives while the only slot is busy
        response = client.invoke(
            FunctionName="queued", InvocationType="Event", Payload=json.dumps({"path": str(marker)})
        )
        assert response["StatusCode"] == 202
    deadline = time.monotonic() + 30
    while not (first.exists() and second.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.read_text() == second.read_text() == "ran"


def test_payload_limits(client: Any) -> None:
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName="echo", Payload=json.dumps({"x": "y" * (6 * 1024 * 1024)}))
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(
            FunctionName="touch",
            InvocationType="Event",
            Payload=json.dumps({"x": "y" * (300 * 1024)}),
        )
    response, body = _invoke(client, "big")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


def test_stopping_an_endpoint_that_never_started_returns() -> None:
    done = threading.Event()

    def stop() -> None:
        LambdaEndpoint([]).stop()
        done.set()

    threading.Thread(target=stop, daemon=True).start()
    assert done.wait(10)


def test_a_functions_output_can_go_to_its_own_log_file(
    client: Any, function_log: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Like a log group: the bench keeps its table readable by sending logs there."""
    for n in (1, 2):
        assert _invoke(client, "logged", {"n": n})[1] == n
    lines = function_log.read_text().splitlines()
    assert sorted(lines) == ["to stderr 1", "to stderr 2", "to stdout 1", "to stdout 2"]
    out, err = capfd.readouterr()
    assert "to stdout" not in out and "to stderr" not in err
