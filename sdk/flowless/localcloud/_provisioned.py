"""What provisioning returns, and how it fails: the shapes every stage of it shares.

Kept apart from ``provision`` so that the stages (translation, the moto template, the
resolver, the applied resources) can raise ``ProvisionError`` and build
``ProvisionedFunction`` without importing the module that runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ProvisionError", "Provisioned", "ProvisionedFunction"]


class ProvisionError(RuntimeError):
    """The template could not be translated, created, or checked in the target."""


@dataclass(frozen=True)
class ProvisionedFunction:
    """A function as ``sam deploy`` would create it (moto does not create it)."""

    logical_id: str
    name: str
    handler: str
    timeout: int
    memory_size: int
    environment: Mapping[str, str] = field(compare=False)
    #: From the function's ``EventInvokeConfig`` (asynchronous invocations): how often
    #: Lambda retries a failed event (None: Lambda's default, 2), and the ARN failed
    #: events go to (None: nowhere).
    maximum_retry_attempts: int | None = None
    on_failure: str | None = None


@dataclass(frozen=True)
class Provisioned:
    """Physical names of a provisioned stack."""

    stack_name: str
    region: str
    table_name: str
    bucket_name: str
    flow_function_name: str
    task_function_name: str
    #: By logical id (``FlowRunFunction``, ``TaskRunFunction``).
    functions: Mapping[str, ProvisionedFunction] = field(compare=False)
    #: A generated template's dead-letter queue (its URL at the endpoint), if any.
    dead_letter_queue_url: str | None = None
    #: The schedule group and the names of the schedules created in it (generated
    #: templates), and the alarms' names.
    schedule_group: str | None = None
    schedules: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    #: The secret that signs pickles (its ARN: ``FLOWLESS_SIGNING_SECRET``), if any.
    signing_secret: str | None = None
