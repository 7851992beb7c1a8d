"""What ``flowless.yaml`` becomes: frozen configuration, and the error that refuses a file.

The shapes are kept apart from the parsing (``_config_parse``, ``_config_fields``,
``_config_schedules``) so that ``flowless build`` and the writer (``_config_edit``)
share them without importing each other; ``_config`` is the surface that re-exports
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from flowless.exceptions import FlowlessException
from flowless.schedules import Cron, Interval, slug_of

__all__ = [
    "COLLISION_STRATEGIES",
    "DEPLOYMENT_FIELDS",
    "FILENAME",
    "PROJECT_FIELDS",
    "SCHEDULE_FIELDS",
    "CollisionStrategy",
    "ConcurrencyLimitConfig",
    "DeploymentConfig",
    "ProjectConfig",
    "ProjectError",
    "ScheduleConfig",
]

#: The project file's name, at the root of the project.
FILENAME = "flowless.yaml"

#: Top-level fields. ``definitions`` is prefect.yaml's place for YAML anchors (``&name``)
#: that deployments reuse (``<<: *name``); flowless reads nothing from it.
PROJECT_FIELDS = ("name", "deployments", "definitions")
DEPLOYMENT_FIELDS = (
    "name",
    "entrypoint",
    "description",
    "tags",
    "parameters",
    "paused",
    "concurrency_limit",
    "schedules",
)
SCHEDULE_FIELDS = (
    "cron",
    "interval",
    "anchor_date",
    "timezone",
    "day_or",
    "active",
    "parameters",
    "slug",
)

CollisionStrategy = Literal["ENQUEUE", "CANCEL_NEW"]
#: Prefect's default is ENQUEUE: a run that finds the limit full waits for a slot.
COLLISION_STRATEGIES: tuple[CollisionStrategy, ...] = ("ENQUEUE", "CANCEL_NEW")


class ProjectError(FlowlessException):
    """``flowless.yaml`` is missing, unreadable or invalid; the message says how to fix it."""


@dataclass(frozen=True)
class ConcurrencyLimitConfig:
    """At most ``limit`` runs of the deployment at once; what a run finding it full does."""

    limit: int
    collision_strategy: CollisionStrategy = "ENQUEUE"


@dataclass(frozen=True)
class ScheduleConfig:
    """One entry of a deployment's ``schedules``; ``where`` is its place in the file."""

    schedule: Cron | Interval
    where: str

    @property
    def slug(self) -> str:
        return slug_of(self.schedule)


@dataclass(frozen=True, kw_only=True)
class DeploymentConfig:
    """One entry of ``deployments``, checked but not yet imported.

    ``flow_name`` is None here: ``flowless build`` fills it in (``dataclasses.replace``)
    once it has imported the entrypoint. ``parameters`` is read-only, a deep copy of the
    file's values (JSON types only). ``where`` is the entry's place: ``deployments[0]``.
    """

    name: str
    flow_name: str | None = None
    entrypoint: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    paused: bool = False
    concurrency_limit: ConcurrencyLimitConfig | None = None
    schedules: tuple[ScheduleConfig, ...] = ()
    where: str = ""

    @property
    def full_name(self) -> str:
        """``flow-name/deployment-name``, Prefect's form; needs ``flow_name``."""
        if self.flow_name is None:
            raise ValueError(
                f"Deployment {self.name!r}: the flow name is known only once "
                "`flowless build` has imported the entrypoint."
            )
        return f"{self.flow_name}/{self.name}"


@dataclass(frozen=True)
class ProjectConfig:
    """A loaded ``flowless.yaml``: ``path`` is the file, ``root`` the folder holding it."""

    path: Path
    root: Path
    name: str
    deployments: tuple[DeploymentConfig, ...]

    def deployment(self, name: str) -> DeploymentConfig:
        for deployment in self.deployments:
            if deployment.name == name:
                return deployment
        known = ", ".join(repr(d.name) for d in self.deployments) or "none"
        raise ProjectError(
            f"{self.path.name}: no deployment named {name!r} (deployments: {known})."
        )
