"""Reaching deployments from a program or the CLI: ``run_deployment`` and friends.

- Embedded (``FLOWLESS_BACKEND=local``): the deployments are the ones ``serve``
  registered in the store under ``FLOWLESS_HOME``; operations run in this process, and a
  ``serve`` process starts the runs.
- AWS: the deployed flow-run function is the one place that knows the deployed
  deployments (its manifest), so operations are synchronous invocations of it
  (``{"action": ...}``) and its answer or its error comes back here. The caller needs
  ``lambda:InvokeFunction`` on that function and read access to the table to wait.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flowless.deployments._definition import (
    DeploymentDefinition,
    DeploymentParameterError,
    UnknownDeploymentError,
)
from flowless.deployments._service import DeploymentService, IdempotencyKeyReusedError
from flowless.exceptions import ConfigurationError, CorruptRecordError, FlowlessException
from flowless.results import Results
from flowless.settings import Settings, current_settings
from flowless.states import TERMINAL_TYPES, State, StateType
from flowless.store import FlowRunRecord, Store

__all__ = [
    "DeploymentError",
    "FlowRun",
    "LambdaDeployments",
    "LocalDeployments",
    "deployments_for",
    "flow_run_view",
]


_LOGGER = logging.getLogger("flowless.deployments")


class DeploymentError(FlowlessException):
    """The flow-run function refused a deployment operation (its message says why)."""


@dataclass
class FlowRun:
    """A flow run as ``run_deployment`` returns it (Prefect: ``client.schemas.FlowRun``)."""

    id: str
    name: str
    flow_name: str
    state: State[Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    deployment_id: str | None = None
    deployment_name: str | None = None
    tags: list[str] = field(default_factory=list)
    scheduled_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    idempotency_key: str | None = None
    schedule_slug: str | None = None

    @property
    def state_type(self) -> StateType:
        return self.state.type

    @property
    def state_name(self) -> str:
        return self.state.name


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def flow_run_view(record: FlowRunRecord, results: Results | None) -> FlowRun:
    parameters: dict[str, Any] = {}
    if record.parameters is not None and results is not None:
        try:
            parameters = results.load(record.parameters)
        except CorruptRecordError:
            parameters = {}
    from flowless.engine._scheduled import state_of_record

    return FlowRun(
        id=record.id,
        name=record.name,
        flow_name=record.flow_name,
        state=state_of_record(record, load_result=False),
        parameters=parameters,
        deployment_id=record.deployment_id,
        deployment_name=record.deployment_name,
        tags=list(record.tags),
        scheduled_start_time=_time(record.scheduled_start_time),
        start_time=_time(record.start_time),
        end_time=_time(record.end_time),
        idempotency_key=record.idempotency_key,
        schedule_slug=record.schedule_slug,
    )


class LocalDeployments:
    """Deployments registered by ``serve`` in the embedded store."""

    def __init__(self, settings: Settings) -> None:
        from flowless.engine import current_runtime
        from flowless.store import SQLiteStore

        runtime = current_runtime()
        store = runtime.store
        if not isinstance(store, SQLiteStore):
            raise ConfigurationError("The embedded deployments need the embedded store.")
        self.store: Store = store
        self.results = runtime.results
        definitions = []
        for body in store.list_registrations():
            if isinstance(body, dict):
                try:
                    definitions.append(DeploymentDefinition.from_json(body))
                except (KeyError, TypeError, ValueError) as exc:  # skipped, and said
                    _LOGGER.warning("Skipping a corrupt deployment registration: %s", exc)
        self.service = DeploymentService(definitions, store, runtime.results, store)

    def describe(self) -> list[dict[str, Any]]:
        return self.service.describe()

    def set_paused(self, name: str, paused: bool) -> None:
        self.service.set_paused(name, paused)

    def create_run(self, name: str, **options: Any) -> FlowRunRecord:
        record, _ = self.service.create_run(name, **options)
        return record

    def fire_slot(self, name: str, slug: str | None, nominal: datetime) -> dict[str, Any]:
        """Record a slot's run; a ``serve`` process serving the deployment runs it."""
        slug = slug or _first_slug(self.service.get(name).to_json())
        record, created = self.service.fire_slot(name, slug, nominal)
        return {
            "flow_run_id": record.id,
            "flow_run_name": record.name,
            "created": created,
            "state": {"type": record.state_type.value, "name": record.state_name},
        }


_ERRORS: dict[str, type[FlowlessException]] = {
    "UnknownDeploymentError": UnknownDeploymentError,
    "DeploymentParameterError": DeploymentParameterError,
    "IdempotencyKeyReusedError": IdempotencyKeyReusedError,
}


class LambdaDeployments:
    """The deployed flow-run function's deployments, through synchronous invocations."""

    def __init__(self, settings: Settings) -> None:
        from flowless.engine._runtime import aws_clients
        from flowless.results import S3BlobStorage, secret_signer
        from flowless.store import DynamoDBStore

        if not settings.flow_function or not settings.table:
            raise ConfigurationError(
                "Deployments on AWS need FLOWLESS_FLOW_FUNCTION and FLOWLESS_TABLE: the "
                "names of the flow-run function and the table your stack deployed (its "
                "outputs FlowRunFunctionName and StateTableName)."
            )
        from botocore.config import Config

        # No retries (a retried create would be a second run); a read timeout longer than
        # the function's longest run, since `schedule fire` waits for the run it starts.
        clients = aws_clients(
            "dynamodb",
            "s3",
            **{"lambda": Config(read_timeout=905, retries={"total_max_attempts": 1})},
        )
        self.function = settings.flow_function
        self.client = clients["lambda"]
        self.store: Store = DynamoDBStore(settings.table, clients["dynamodb"])
        signer = secret_signer(
            settings.signing_secret, lambda: aws_clients("secretsmanager")["secretsmanager"]
        )
        self.results = Results(S3BlobStorage(settings.bucket or "", clients["s3"]), 0, signer)

    def _call(self, payload: dict[str, Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.invoke(
                FunctionName=self.function,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise DeploymentError(
                f"Could not invoke the flow-run function {self.function!r}: "
                f"{error.get('Code')}: {error.get('Message')}"
            ) from exc
        except BotoCoreError as exc:
            raise DeploymentError(
                f"Could not reach the flow-run function {self.function!r}: {exc} (check "
                "your AWS credentials and region, and FLOWLESS_FLOW_FUNCTION)."
            ) from exc
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            kind = body.get("errorType", "") if isinstance(body, dict) else ""
            message = body.get("errorMessage", body) if isinstance(body, dict) else body
            raise _ERRORS.get(kind, DeploymentError)(str(message))
        return body

    def describe(self) -> list[dict[str, Any]]:
        answer = self._call({"action": "describe"})
        return list(answer["deployments"])

    def set_paused(self, name: str, paused: bool) -> None:
        self._call({"action": "pause" if paused else "resume", "deployment": name})

    def create_run(self, name: str, **options: Any) -> FlowRunRecord:
        answer = self._call({"action": "create_flow_run", "deployment": name, **options})
        return self.store.read_flow_run(str(answer["flow_run_id"]))

    def fire_slot(self, name: str, slug: str | None, nominal: datetime) -> dict[str, Any]:
        """What EventBridge Scheduler sends for the slot, sent now (and waited for)."""
        if slug is None:
            entries = {e["full_name"]: e for e in self.describe()}
            if name not in entries:
                raise UnknownDeploymentError(
                    f"Deployment {name!r} not found (deployments: "
                    f"{', '.join(sorted(entries)) or 'none'})."
                )
            slug = _first_slug(entries[name])
        stamp = nominal.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer: dict[str, Any] = self._call(
            {"deployment": name, "schedule": slug, "scheduled_time": stamp}
        )
        return answer


def _first_slug(entry: dict[str, Any]) -> str:
    schedules = entry.get("schedules") or []
    if not schedules:
        raise UnknownDeploymentError(f"Deployment {entry['full_name']!r} has no schedules.")
    return str(schedules[0]["slug"])


def deployments_for(settings: Settings | None = None) -> LocalDeployments | LambdaDeployments:
    settings = settings or current_settings()
    if settings.backend == "aws":
        return LambdaDeployments(settings)
    return LocalDeployments(settings)


def wait_for_final(
    store: Store, results: Results, flow_run_id: str, timeout: float | None, poll_interval: float
) -> FlowRun:
    """Poll until the run is final or ``timeout`` passes (the run is never cancelled)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        record = store.read_flow_run(flow_run_id)
        if record.state_type in TERMINAL_TYPES:
            return flow_run_view(record, results)
        if deadline is not None and time.monotonic() >= deadline:
            return flow_run_view(record, results)
        pause = poll_interval
        if deadline is not None:
            pause = max(0.0, min(pause, deadline - time.monotonic()))
        time.sleep(pause)
