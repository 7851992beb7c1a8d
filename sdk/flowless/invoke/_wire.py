"""The JSON that crosses a Lambda invocation (formats in ``docs/aws.md``).

Both ends use this module: the Lambda invoker builds task-run events and reads
responses, the task-run handler reads events and builds responses. Anything read from
the wire is checked; a malformed event raises ``WireError`` naming what is wrong.

A pickled exception travels signed with the store's key (``flowless.results.Signer``),
as every stored pickle does, and is unpickled only once its signature is checked.
"""

from __future__ import annotations

import base64
import importlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flowless._callables import module_name
from flowless.exceptions import ConfigurationError, RemoteTaskError, UntrustedPayloadError
from flowless.states import State, StateType
from flowless.store import Payload, TaskRunRecord

if TYPE_CHECKING:
    from flowless.invoke._protocol import TaskCall
    from flowless.results import Signer
    from flowless.tasks import Task

__all__ = [
    "TaskSourceMismatchError",
    "WireError",
    "error_from_wire",
    "error_to_wire",
    "import_task",
    "payload_from_wire",
    "payload_to_wire",
    "read_task_event",
    "state_from_wire",
    "state_to_wire",
    "task_event",
    "task_reference",
]


class WireError(ValueError):
    """An event or response that is not what this module writes."""


def _field(
    data: dict[str, Any], name: str, kind: type | tuple[type, ...], *, optional: bool = False
) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise WireError(f"{name!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def payload_to_wire(payload: Payload | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    data = base64.b64encode(payload.data).decode() if payload.data is not None else None
    return {"serializer": payload.serializer, "data": data, "location": payload.location}


def payload_from_wire(data: Any) -> Payload | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise WireError(f"a payload must be an object, got {data!r}")
    encoded = _field(data, "data", str, optional=True)
    try:
        raw = base64.b64decode(encoded, validate=True) if encoded is not None else None
    except ValueError as exc:
        raise WireError(f"payload data is not base64: {exc}") from None
    payload = Payload(
        _field(data, "serializer", str), raw, _field(data, "location", str, optional=True)
    )
    if payload.data is None and payload.location is None:
        raise WireError("a payload needs data or a location")
    return payload


class TaskSourceMismatchError(WireError):
    """The task the function imported is not the caller's version of it."""


def task_reference(task: Task[..., Any]) -> str:
    """``module:attribute`` by which the task-run function imports the task."""
    qualname = getattr(task.fn, "__qualname__", "")
    if not qualname or "<locals>" in qualname:
        raise ConfigurationError(
            f"Task {task.name!r} is defined inside a function; to run on AWS Lambda a task "
            "must be defined at module level, in a module packaged with the functions."
        )
    return f"{module_name(task.fn)}:{qualname}"


def import_task(reference: str) -> Task[..., Any]:
    from flowless.tasks import Task

    module_path, _, attribute = reference.partition(":")
    if not module_path or not attribute:
        raise WireError(f"'task' must look like 'module:attribute', got {reference!r}")
    try:
        target: Any = importlib.import_module(module_path)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise WireError(
            f"Task {reference!r} cannot be imported here ({type(exc).__name__}: {exc}); "
            "is its module packaged with the function?"
        ) from None
    if not isinstance(target, Task):
        raise WireError(f"{reference!r} is not a task (it is {type(target).__name__})")
    return target


def _options(task: Task[..., Any]) -> dict[str, Any]:
    """The task's options that can travel as data (see ``docs/aws.md``)."""
    return {
        "name": task.name,
        "retries": task.retries,
        "retry_delay_seconds": task.retry_delays,
        "retry_jitter_factor": task.retry_jitter_factor,
        "timeout_seconds": task.timeout_seconds,
        "persist_result": task.persist_result,
        "tags": sorted(task.tags),
    }


def task_event(call: TaskCall, parameters: Payload) -> dict[str, Any]:
    run = call.task_run
    expiration = call.cache_expiration
    return {
        "task": task_reference(call.task),
        # What the caller's task is: the function refuses to run different code under
        # its name (a laptop's edited flow against the deployed functions).
        "source_hash": call.task.source_hash,
        "options": _options(call.task),
        "parameters": payload_to_wire(parameters),
        "task_run": {
            "id": run.id,
            "flow_run_id": run.flow_run_id,
            "task_key": run.task_key,
            "dynamic_key": run.dynamic_key,
            "name": run.name,
            "task_name": run.task_name,
            "tags": run.tags,
            "inputs": run.inputs,
        },
        "flow_run_name": call.flow_run_name,
        "log_prints": call.log_prints,
        "cache_key": call.cache_key,
        "cache_expiration_seconds": None if expiration is None else expiration.total_seconds(),
    }


def _inputs(value: Any) -> dict[str, str] | None:
    """A task run's ``inputs`` (bounded reprs, for the run UI), as the caller made them;
    a lone surrogate (never stored) is kept as its escape."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise WireError(f"'inputs' must be an object of strings, got {value!r:.200}")
    return {_storable(k): _storable(v) for k, v in value.items()}


def _storable(text: str) -> str:
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode()


def read_task_event(event: Any) -> tuple[Task[..., Any], Payload, TaskRunRecord, dict[str, Any]]:
    """The task (with its options applied), the parameters payload, the task run record,
    and the rest (flow run name, log_prints, cache key and expiration)."""
    if not isinstance(event, dict):
        raise WireError(f"the event must be a JSON object, got {type(event).__name__}")
    reference = _field(event, "task", str)
    task = import_task(reference)
    expected = _field(event, "source_hash", str, optional=True)
    if expected is not None and expected != task.source_hash:
        raise TaskSourceMismatchError(
            f"Task {task.name!r} ({reference}) is not the code that called it: the "
            "deployed task's source differs from the caller's. Rebuild and deploy "
            "(`flowless build && sam build && sam deploy`), then run the flow again."
        )
    options = _field(event, "options", dict)
    try:
        task = task.with_options(**options)
    except (TypeError, ValueError) as exc:
        raise WireError(f"'options' cannot be applied: {exc}") from None
    parameters = payload_from_wire(event.get("parameters"))
    if parameters is None:
        raise WireError("'parameters' is missing")
    run = _field(event, "task_run", dict)
    record = TaskRunRecord(
        id=_field(run, "id", str),
        flow_run_id=_field(run, "flow_run_id", str, optional=True),
        task_key=_field(run, "task_key", str),
        dynamic_key=_field(run, "dynamic_key", int),
        name=_field(run, "name", str),
        task_name=_field(run, "task_name", str),
        state_type=StateType.PENDING,
        state_name="Pending",
        tags=[str(t) for t in _field(run, "tags", list)],
        inputs=_inputs(run.get("inputs")),
    )
    seconds = _field(event, "cache_expiration_seconds", (int, float), optional=True)
    rest = {
        "flow_run_name": _field(event, "flow_run_name", str, optional=True),
        "log_prints": bool(event.get("log_prints", False)),
        "cache_key": _field(event, "cache_key", str, optional=True),
        "cache_expiration": None if seconds is None else timedelta(seconds=seconds),
    }
    return task, parameters, record, rest


def state_to_wire(state: State[Any]) -> dict[str, Any]:
    return {"type": state.type.value, "name": state.name, "message": state.message}


def state_from_wire(data: Any, payload_data: Any = None) -> State[Any]:
    if not isinstance(data, dict):
        raise WireError(f"a state must be an object, got {data!r}")
    try:
        kind = StateType(_field(data, "type", str))
    except ValueError:
        raise WireError(f"unknown state type {data.get('type')!r}") from None
    return State(
        kind, _field(data, "name", str), _field(data, "message", str, optional=True), payload_data
    )


#: An error travels in the task-run function's response, which Lambda caps at 6 MB: a
#: larger pickled exception is left out (the flow side rebuilds a ``RemoteTaskError``
#: from type and message), and a longer message is cut.
MAX_PICKLED_ERROR_BYTES = 256 * 1024
MAX_ERROR_MESSAGE_CHARS = 64 * 1024


def error_to_wire(exc: BaseException, signer: Signer | None = None) -> dict[str, Any]:
    """Type, message, and with ``signer`` the exception itself, pickled and signed (left
    out if it does not pickle or is too large)."""
    kind = type(exc)
    pickled = None
    if signer is not None:
        try:
            import cloudpickle

            raw = cloudpickle.dumps(exc)
        except Exception:
            raw = None
        if raw is not None and len(raw) <= MAX_PICKLED_ERROR_BYTES:
            pickled = base64.b64encode(signer.sign(raw)).decode()
    message = str(exc)
    if len(message) > MAX_ERROR_MESSAGE_CHARS:
        cut = len(message) - MAX_ERROR_MESSAGE_CHARS
        message = f"{message[:MAX_ERROR_MESSAGE_CHARS]}... ({cut} more characters)"
    return {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": message,
        "pickled": pickled,
    }


def error_from_wire(data: Any, signer: Signer | None = None) -> BaseException:
    """The original exception when it unpickles here, else a ``RemoteTaskError`` that
    carries its type and message. The pickle is loaded only with ``signer``, and only if
    it signed it: any other is refused with ``WireError`` before it is unpickled."""
    if not isinstance(data, dict):
        raise WireError(f"an error must be an object, got {data!r}")
    pickled = data.get("pickled")
    if isinstance(pickled, str) and signer is not None:
        try:
            raw = base64.b64decode(pickled, validate=True)
        except ValueError as exc:
            raise WireError(f"the pickled exception is not base64: {exc}") from None
        try:
            body = signer.verify(raw, "the pickled exception in the task-run function's answer")
        except UntrustedPayloadError as exc:
            raise WireError(str(exc)) from None
        try:
            import cloudpickle

            value = cloudpickle.loads(body)
            if isinstance(value, BaseException):
                return value
        except Exception:
            pass
    return RemoteTaskError(str(data.get("type", "Exception")), str(data.get("message", "")))
