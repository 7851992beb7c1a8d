"""What ``flowless build`` renders: frozen models of the user's stack.

As in chalice's ``deploy/models.py``: the build step turns the project (``flowless.yaml``
and the imported flows) into these plain values, and one generator
(``flowless.deploy._template``) renders them into the SAM template. Nothing here reads
files, imports user code or knows YAML; every check a value needs happens when the
model is created, so a model that exists can be rendered.

Build-time only: nothing in the engine or the Lambda handlers imports this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

__all__ = [
    "FUNCTION_CODE_URI",
    "LAYER_CONTENT_URI",
    "MANIFEST_FILE",
    "SCHEDULED_TIME",
    "ScheduleModel",
    "StackModel",
    "schedule_input",
    "schedule_logical_id",
    "schedule_name",
]

#: Where ``flowless build`` stages the function's code and the layer, relative to the
#: project root (where the template is written). Hidden, so the staged code is never
#: copied into itself.
FUNCTION_CODE_URI = ".flowless/build/function"
LAYER_CONTENT_URI = ".flowless/build/layer"
#: The manifest's file name, at the root of the function's code (``FLOWLESS_MANIFEST``).
MANIFEST_FILE = "flowless-manifest.json"

#: EventBridge Scheduler's context attribute for the nominal fire time (ISO 8601, UTC,
#: e.g. ``2022-03-22T18:59:43Z``), replaced in the target's ``Input`` at each invocation.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"

#: Scheduler's limits (CreateSchedule): name 1-64 of [0-9a-zA-Z-_.], description <= 512,
#: expression <= 256, time zone <= 50 characters.
_SCHEDULE_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_SCHEDULE_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]+")
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
_EXPRESSION = re.compile(r"^(cron|rate|at)\(.+\)$")
_RUNTIME = re.compile(r"^python3\.\d+$")
_DIGEST = 8


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:_DIGEST]


def schedule_name(deployment: str, slug: str, index: int = 0) -> str:
    """The AWS name of the ``index``-th EventBridge schedule of a deployment's schedule.

    ``deployment`` is the full name (``flow/deployment``), ``slug`` the schedule's slug;
    ``index`` counts the EventBridge expressions one schedule needs (a cron restricting
    both day fields with ``day_or`` becomes two). Readable and deterministic:
    ``flow.deployment.slug.0``; when that has characters Scheduler refuses or is over 64
    characters, it is shortened and made unique with a hash of the three parts.
    """
    if index < 0:
        raise ValueError(f"index {index} < 0")
    readable = f"{deployment.replace('/', '.')}.{slug}.{index}"
    if _SCHEDULE_NAME.match(readable):
        return readable
    cleaned = _SCHEDULE_NAME_UNSAFE.sub("-", readable).strip("-.") or "schedule"
    digest = _digest(deployment, slug, str(index))
    return f"{cleaned[: 64 - _DIGEST - 1]}-{digest}"


def schedule_logical_id(name: str) -> str:
    """The CloudFormation logical id of the schedule named ``name`` (letters and digits)."""
    camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name))
    return f"Schedule{camel[:200]}{_digest(name).upper()}"


def schedule_input(deployment: str, slug: str) -> str:
    """The JSON the flow-run function receives from the schedule (Scheduler fills in the
    nominal time): ``{"deployment": ..., "schedule": ..., "scheduled_time": ...}``."""
    return json.dumps(
        {"deployment": deployment, "schedule": slug, "scheduled_time": SCHEDULED_TIME}
    )


@dataclass(frozen=True, kw_only=True)
class ScheduleModel:
    """One ``AWS::Scheduler::Schedule``: fires the flow-run function for a deployment.

    ``expression`` is EventBridge Scheduler's (``cron(0 9 ? * * *)``, ``rate(1 hour)``),
    read in ``timezone`` (an IANA name). ``start_date`` must be timezone-aware, and in
    the future when the stack is deployed: Scheduler rejects a start date more than five
    minutes in the past, so give one only for an anchor still ahead. ``enabled`` is the
    schedule's state (a schedule with ``active: false`` is created DISABLED).

    Use ``ScheduleModel.create`` to derive ``name`` and ``logical_id``.
    """

    logical_id: str
    name: str
    deployment: str
    slug: str
    expression: str
    timezone: str = "UTC"
    start_date: datetime | None = None
    enabled: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if not _LOGICAL_ID.match(self.logical_id):
            raise ValueError(f"logical id {self.logical_id!r}: letters and digits, 1-255")
        if not _SCHEDULE_NAME.match(self.name):
            raise ValueError(f"schedule name {self.name!r}: 1-64 of [0-9A-Za-z_.-]")
        if not self.deployment or "/" not in self.deployment:
            raise ValueError(f"deployment {self.deployment!r}: expected 'flow/deployment'")
        if not self.slug:
            raise ValueError("a schedule needs a slug")
        if not _EXPRESSION.match(self.expression) or len(self.expression) > 256:
            raise ValueError(f"expression {self.expression!r}: cron(...), rate(...) or at(...)")
        if not self.timezone or len(self.timezone) > 50:
            raise ValueError(f"timezone {self.timezone!r}")
        if self.start_date is not None and self.start_date.utcoffset() is None:
            raise ValueError(f"start_date {self.start_date!r} has no timezone")
        if len(self.description) > 512:
            raise ValueError("a schedule's description is at most 512 characters")

    @classmethod
    def create(
        cls,
        *,
        deployment: str,
        slug: str,
        expression: str,
        index: int = 0,
        timezone: str | None = "UTC",
        start_date: datetime | None = None,
        enabled: bool = True,
        description: str | None = None,
    ) -> ScheduleModel:
        """A schedule with its name and logical id derived from deployment, slug, index
        (``timezone`` None is UTC)."""
        name = schedule_name(deployment, slug, index)
        if description is None:
            description = f"flowless: deployment {deployment}, schedule {slug}"
        return cls(
            logical_id=schedule_logical_id(name),
            name=name,
            deployment=deployment,
            slug=slug,
            expression=expression,
            timezone=timezone or "UTC",
            start_date=start_date,
            enabled=enabled,
            description=description[:512],
        )

    @property
    def input(self) -> str:
        return schedule_input(self.deployment, self.slug)

    @property
    def state(self) -> str:
        return "ENABLED" if self.enabled else "DISABLED"

    @property
    def start_date_text(self) -> str | None:
        """``start_date`` in UTC as CloudFormation takes it (``2027-01-01T05:00:00Z``)."""
        if self.start_date is None:
            return None
        utc = self.start_date - (self.start_date.utcoffset() or timedelta())
        return utc.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, kw_only=True)
class StackModel:
    """The user's stack: the state table, the bucket, the layer, the two functions, the
    dead-letter queue, the alarms and one EventBridge schedule per ``ScheduleModel``.

    The code URIs are relative to the template's folder (the project root), with '/'.
    """

    description: str
    function_code_uri: str = FUNCTION_CODE_URI
    layer_content_uri: str = LAYER_CONTENT_URI
    schedules: tuple[ScheduleModel, ...] = ()
    runtime: str = "python3.11"
    architecture: str = "x86_64"

    def __post_init__(self) -> None:
        for label, uri in (
            ("function_code_uri", self.function_code_uri),
            ("layer_content_uri", self.layer_content_uri),
        ):
            path = PurePosixPath(uri)
            if not uri or path.is_absolute() or ".." in path.parts or "\\" in uri:
                raise ValueError(f"{label} {uri!r}: a relative path inside the project")
        if not _RUNTIME.match(self.runtime):
            raise ValueError(f"runtime {self.runtime!r}: a python3.x Lambda runtime")
        if self.architecture not in ("x86_64", "arm64"):
            raise ValueError(f"architecture {self.architecture!r}: x86_64 or arm64")
        if len(self.description) > 1024:
            raise ValueError("a template's description is at most 1024 characters")
        for attribute in ("name", "logical_id"):
            seen: dict[str, ScheduleModel] = {}
            for schedule in self.schedules:
                key = getattr(schedule, attribute)
                if key in seen:
                    raise ValueError(
                        f"two schedules share the {attribute} {key!r}: "
                        f"{seen[key].deployment} ({seen[key].slug}) and "
                        f"{schedule.deployment} ({schedule.slug})"
                    )
                seen[key] = schedule
