"""The operations on deployments, done where their definitions are: in a ``serve``
process (the embedded store) or in the flow-run Lambda function (the manifest).

Every way a deployment's run comes into being ends here, as a flow run record in state
Scheduled whose id is derived from what makes it unique:

- a schedule slot: (deployment, schedule slug, the slot's *nominal* time). Scheduler
  delivers at least once and Lambda retries, so the same slot may arrive many times; the
  store's conditional create lets exactly one record exist, and every delivery gets it.
  The slug and the deployment's name survive a redeploy, so a redeploy never repeats a
  slot (Prefect's key includes a schedule id that a redeploy changes).
- an idempotency key: (deployment, key). Reusing a key returns the same run; reusing it
  with other parameters is an error (Prefect quietly returns the old run).
- anything else: a fresh id.

A paused deployment's slot is recorded as a run in state Cancelled named Skipped, so the
slot is accounted for and a late duplicate of it starts nothing either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flowless.deployments._definition import (
    DeploymentDefinition,
    DeploymentParameterError,
    UnknownDeploymentError,
)
from flowless.exceptions import FlowlessException, RecordExistsError
from flowless.results import Results
from flowless.states import StateType
from flowless.store import DeploymentStateStore, FlowRunRecord, Store

__all__ = [
    "DeploymentParameterError",
    "DeploymentService",
    "IdempotencyKeyReusedError",
    "UnknownDeploymentError",
    "slot_flow_run_id",
]

_NAMESPACE = uuid.UUID("9b1e4c1e-7a0d-4a43-8f55-3b0f2f5d8e21")
_MISSING = object()


class IdempotencyKeyReusedError(FlowlessException, ValueError):
    """An idempotency key that already made a run, sent again with other parameters."""


def slot_flow_run_id(full_name: str, slug: str, nominal: datetime) -> str:
    from flowless.schedules import slot_key

    return str(uuid.uuid5(_NAMESPACE, slot_key(full_name, slug, nominal)))


def _idempotent_id(full_name: str, key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{full_name}|idempotency|{key}"))


class DeploymentService:
    def __init__(
        self,
        definitions: Sequence[DeploymentDefinition],
        store: Store,
        results: Results,
        states: DeploymentStateStore,
    ) -> None:
        self.definitions = {d.full_name: d for d in definitions}
        self.store = store
        self.results = results
        self.states = states

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str) -> DeploymentDefinition:
        found = self.definitions.get(name)
        if found is not None:
            return found
        known = ", ".join(sorted(self.definitions)) or "none"
        hint = ""
        if "/" not in name:
            matches = [n for n in self.definitions if n.endswith(f"/{name}")]
            if matches:
                hint = f" Did you mean {matches[0]!r}? Names are 'flow-name/deployment-name'."
        raise UnknownDeploymentError(f"Deployment {name!r} not found (deployments: {known}).{hint}")

    def is_paused(self, definition: DeploymentDefinition) -> bool:
        paused = self.states.read_paused(definition.full_name)
        return definition.paused if paused is None else paused

    def describe(self) -> list[dict[str, Any]]:
        return [
            {**d.to_json(), "paused": self.is_paused(d)}
            for _, d in sorted(self.definitions.items())
        ]

    # -- writing -------------------------------------------------------------------------

    def set_paused(self, name: str, paused: bool) -> DeploymentDefinition:
        definition = self.get(name)
        self.states.set_paused(definition.full_name, paused)
        return definition

    def create_run(
        self,
        name: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        scheduled_time: float | None = None,
        flow_run_name: str | None = None,
        tags: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        parent_flow_run_id: str | None = None,
    ) -> tuple[FlowRunRecord, bool]:
        """An ad hoc run (``run_deployment``): the record, and whether it is new."""
        definition = self.get(name)
        given = dict(parameters or {})
        definition.check_parameters(given)
        merged = {**definition.parameters, **given}
        run_id = (
            _idempotent_id(definition.full_name, idempotency_key)
            if idempotency_key is not None
            else str(uuid.uuid4())
        )
        record = self._record(definition, run_id, merged, scheduled_time, flow_run_name)
        record.tags = list(dict.fromkeys([*definition.tags, *(tags or ())]))
        record.idempotency_key = idempotency_key
        record.parent_flow_run_id = parent_flow_run_id
        created = self._create(record)
        if not created and idempotency_key is not None:
            stored = self.results.load(record.parameters) if record.parameters is not None else {}
            # The caller's own parameters decide: a redeploy that changed a default must
            # not turn the same request, retried, into an error.
            if any(stored.get(k, _MISSING) != v for k, v in given.items()):
                raise IdempotencyKeyReusedError(
                    f"Idempotency key {idempotency_key!r} of deployment {definition.full_name!r} "
                    f"already started flow run {record.name!r} ({record.id}) with parameters "
                    f"{stored!r}; these differ ({merged!r}). Use a new key for new parameters."
                )
        return record, created

    def fire_slot(self, name: str, slug: str, nominal: datetime) -> tuple[FlowRunRecord, bool]:
        """The one flow run of a schedule slot: the record, and whether this call made it."""
        definition = self.get(name)
        schedule = definition.schedule(slug)
        merged = {**definition.parameters, **schedule.parameters}
        run_id = slot_flow_run_id(definition.full_name, slug, nominal)
        record = self._record(definition, run_id, merged, nominal.timestamp(), None)
        record.tags = list(definition.tags)
        record.schedule_slug = slug
        why = None
        if self.is_paused(definition):
            why = f"deployment {definition.full_name!r} is paused"
        elif not schedule.active:
            why = f"schedule {slug!r} of deployment {definition.full_name!r} is inactive"
        if why is not None:
            record.state_type, record.state_name = StateType.CANCELLED, "Skipped"
            record.state_message = f"Slot skipped: {why}."
            record.end_time = record.created
        return record, self._create(record)

    def _record(
        self,
        definition: DeploymentDefinition,
        run_id: str,
        parameters: dict[str, Any],
        scheduled_time: float | None,
        flow_run_name: str | None,
    ) -> FlowRunRecord:
        from flowless.engine._names import generate_flow_run_name

        now = time.time()
        return FlowRunRecord(
            id=run_id,
            name=flow_run_name or generate_flow_run_name(),
            flow_name=definition.flow_name,
            state_type=StateType.SCHEDULED,
            state_name="Scheduled",
            parameters=self.results.dump(parameters),
            deployment_id=definition.id,
            deployment_name=definition.full_name,
            scheduled_start_time=now if scheduled_time is None else scheduled_time,
            code_hash=definition.code_hash,
            created=now,
        )

    def _create(self, record: FlowRunRecord) -> bool:
        """Create it, or load the one that exists into ``record``; True if created."""
        try:
            self.store.create_flow_run(record)
        except RecordExistsError:
            stored = self.store.read_flow_run(record.id)
            for name in FlowRunRecord.__slots__:
                setattr(record, name, getattr(stored, name))
            return False
        self.store.flush()
        return True
