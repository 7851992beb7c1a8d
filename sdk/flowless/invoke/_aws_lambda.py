"""The Lambda invoker: each task run is one synchronous invocation of the task-run function.

The flow side sends the call (task reference, data options, serialized parameters, the
task run's keys) and gets back the final state and the result or the error
(``invoke._wire``). Throttling is retried with backoff; nothing else is, because an
invocation whose response was lost may already have run. A function error or a Lambda
timeout becomes the task run's final state here, and is recorded here: the killed
function could not record it.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any

from flowless.exceptions import (
    ConfigurationError,
    RemoteTaskError,
    ResultSerializationError,
    StoreUnavailableError,
)
from flowless.invoke._wire import (
    WireError,
    error_from_wire,
    payload_from_wire,
    state_from_wire,
    task_event,
)
from flowless.invoke._wire_logs import lines_from_wire
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.invoke._protocol import TaskCall
    from flowless.results import Results
    from flowless.store import Store

__all__ = ["LambdaInvoker"]

_THROTTLED = ("TooManyRequestsException", "EC2ThrottledException", "ThrottlingException")


class LambdaInvoker:
    """Runs each task run as one invocation of ``function_name`` (a name or an ARN)."""

    #: The task run logs in the function (CloudWatch), not here: the engine logs its
    #: final state on this side too (see ``Invoker.remote``).
    remote = True

    #: Attempts for a throttled invocation, and the cap of the backoff between them.
    THROTTLE_ATTEMPTS = 8
    THROTTLE_MAX_DELAY = 20.0

    def __init__(self, function_name: str, client: Any, store: Store, results: Results) -> None:
        if not function_name:
            raise ConfigurationError(
                "FLOWLESS_TASK_FUNCTION is not set: name the task-run function deployed by "
                "template.yaml (TaskRunFunction)."
            )
        self.function_name = function_name
        self.client = client
        self.store = store
        self.results = results
        #: Invocations made, by outcome (the bench counts them).
        self.invocations = 0

    def run(self, call: TaskCall) -> State[Any]:
        try:
            parameters = self.results.dump(call.parameters)
        except ResultSerializationError as exc:
            return self._record(
                call,
                State(
                    StateType.FAILED,
                    message=f"Task run parameters cannot be sent to AWS Lambda: {exc}",
                    data=exc,
                ),
            )
        body = json.dumps(task_event(call, parameters)).encode()
        response = self._invoke(body)
        raw = response["Payload"].read()
        if response.get("FunctionError"):
            return self._record(call, self._function_error(raw))
        try:
            answer = json.loads(raw)
            if not isinstance(answer, dict):
                raise WireError(f"the response is {type(answer).__name__}, not an object")
            error = answer.get("error")
            result = payload_from_wire(answer.get("result"))
            data = (
                error_from_wire(error, self.results.signer)
                if error
                else (self.results.load(result) if result is not None else None)
            )
            state = state_from_wire(answer.get("state"), data)
            remote = lines_from_wire(answer.get("logs"))
        except (WireError, ValueError) as exc:
            return self._record(
                call,
                State(
                    StateType.CRASHED,
                    message=f"The task-run function answered something unreadable: {exc}",
                    data=exc,
                ),
            )
        call.task_run.run_count = int(answer.get("run_count", call.task_run.run_count) or 0)
        if remote is not None:
            call.remote_lines, call.remote_lines_cut, call.remote_lines_kept = remote
        state.state_details.task_run_id = call.task_run.id
        state.state_details.flow_run_id = call.task_run.flow_run_id
        state.state_details.cache_key = call.cache_key
        return state

    async def arun(self, call: TaskCall) -> State[Any]:
        import asyncio

        return await asyncio.to_thread(self.run, call)

    def _invoke(self, body: bytes) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(self.THROTTLE_ATTEMPTS):
            try:
                self.invocations += 1
                return self.client.invoke(
                    FunctionName=self.function_name,
                    InvocationType="RequestResponse",
                    Payload=body,
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "ResourceNotFoundException":
                    raise StoreUnavailableError(
                        f"The Lambda function {self.function_name!r} does not exist. Deploy it "
                        "with `sam deploy` (template.yaml, TaskRunFunction), or set "
                        "FLOWLESS_TASK_FUNCTION to the deployed function."
                    ) from exc
                if code not in _THROTTLED or attempt == self.THROTTLE_ATTEMPTS - 1:
                    raise RemoteTaskError(code or "ClientError", str(exc)) from exc
                delay = min(self.THROTTLE_MAX_DELAY, 0.1 * 2**attempt)
                time.sleep(random.uniform(delay / 2, delay))
            except BotoCoreError as exc:
                raise StoreUnavailableError(
                    f"Cannot reach AWS Lambda to run a task: {exc}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _function_error(self, raw: bytes) -> State[Any]:
        """A function that raised outside our handler's control, or was killed (timeout,
        out of memory): the run ends Crashed, or TimedOut for a Lambda timeout."""
        try:
            detail = json.loads(raw)
        except ValueError:
            detail = {"errorMessage": raw.decode(errors="replace")}
        kind = str(detail.get("errorType", "Error")) if isinstance(detail, dict) else "Error"
        message = str(detail.get("errorMessage", detail)) if isinstance(detail, dict) else ""
        error = RemoteTaskError(kind, message)
        if "timed out" in message.lower():
            return State(
                StateType.FAILED, "TimedOut", f"The task-run function timed out: {message}", error
            )
        return State(
            StateType.CRASHED,
            message=f"The task-run function failed: {kind}: {message}",
            data=error,
        )

    def _record(self, call: TaskCall, state: State[Any]) -> State[Any]:
        from flowless.engine._outcome import stamp

        run = call.task_run
        stamp(run, state, None)
        stored = self.store.finish_task_run(run)
        if stored is not run and stored.state_type is StateType.COMPLETED:
            return State(
                StateType.COMPLETED,
                stored.state_name,
                stored.state_message,
                self.results.load(stored.result) if stored.result else None,
            )
        state.state_details.task_run_id = run.id
        state.state_details.flow_run_id = run.flow_run_id
        return state
