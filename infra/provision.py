"""Provisioning this repository's ``template.yaml`` into moto (``flowless.localcloud.provision``
with the repository's template as the default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowless.localcloud.provision import (
    DROPPED_RESOURCE_TYPES,
    LocalManagedPolicyLoader,
    Provisioned,
    ProvisionedFunction,
    ProvisionError,
    translate,
)
from flowless.localcloud.provision import provision as _provision
from infra.template import TEMPLATE

__all__ = [
    "DROPPED_RESOURCE_TYPES",
    "LocalManagedPolicyLoader",
    "ProvisionError",
    "Provisioned",
    "ProvisionedFunction",
    "provision",
    "translate",
]


def provision(
    session: Any, stack_name: str = "flowless", *, template: Path = TEMPLATE, **options: Any
) -> Provisioned:
    return _provision(session, stack_name, template=template, **options)
