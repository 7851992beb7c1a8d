"""A deployment as the runtime sees it: a flow, by entrypoint, with default parameters,
schedules, tags, a pause default and a concurrency limit.

It is data, not code: ``flowless build`` writes these into the manifest the Lambda
functions read, and ``serve`` registers them in the embedded store, both as the JSON of
``to_json``. Whoever reads one back imports the flow by its entrypoint from their own
code; nothing stored here is ever turned into code.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from flowless.exceptions import FlowlessException

if TYPE_CHECKING:
    from flowless.flows import Flow
    from flowless.schedules import Cron, Interval

__all__ = [
    "COLLISION_STRATEGIES",
    "DeploymentDefinition",
    "DeploymentParameterError",
    "UnknownDeploymentError",
    "definition_from_flow",
    "deployment_id",
    "parameter_signature",
    "schedule_from_json",
    "schedule_to_json",
]

#: Deployment ids are derived from the full name, so a redeploy keeps them.
_NAMESPACE = uuid.UUID("5f0c2a36-5d3c-4f0e-9a51-2d1f6a9b7c11")
COLLISION_STRATEGIES = ("ENQUEUE", "CANCEL_NEW")


class UnknownDeploymentError(FlowlessException, LookupError):
    """No deployment by that name where the caller looked."""


class DeploymentParameterError(FlowlessException, ValueError):
    """Parameters a deployment's flow does not take, or required ones missing."""


def deployment_id(full_name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"deployment|{full_name}"))


def parameter_signature(flow: Flow[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(names, required names, accepts **kwargs) of a flow's parameters."""
    names: list[str] = []
    required: list[str] = []
    var_keyword = False
    for p in inspect.signature(flow.fn).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_keyword = True
        elif p.kind is not p.VAR_POSITIONAL:
            names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return tuple(names), tuple(required), var_keyword


def schedule_to_json(schedule: Cron | Interval) -> dict[str, Any]:
    from flowless.schedules import Cron, slug_of

    common = {
        "slug": slug_of(schedule),
        "timezone": schedule.timezone,
        "active": schedule.active,
        "parameters": dict(schedule.parameters),
    }
    if isinstance(schedule, Cron):
        return {"cron": schedule.cron, "day_or": schedule.day_or, **common}
    anchor = schedule.anchor_date.isoformat() if schedule.anchor_date is not None else None
    return {"interval": schedule.interval.total_seconds(), "anchor_date": anchor, **common}


def schedule_from_json(data: Mapping[str, Any]) -> Cron | Interval:
    from flowless.schedules import Cron, Interval

    common: dict[str, Any] = {
        "timezone": data.get("timezone"),
        "active": bool(data.get("active", True)),
        "parameters": dict(data.get("parameters") or {}),
        "slug": data.get("slug"),
    }
    if "cron" in data:
        return Cron(str(data["cron"]), day_or=bool(data.get("day_or", True)), **common)
    anchor = data.get("anchor_date")
    return Interval(
        timedelta(seconds=float(data["interval"])),
        anchor_date=datetime.fromisoformat(anchor) if anchor else None,
        **common,
    )


@dataclass(frozen=True)
class DeploymentDefinition:
    name: str
    flow_name: str
    #: As the user wrote it (``flows.py:etl``), for messages.
    entrypoint: str
    #: What to import: ``module`` then ``attribute`` (dotted) on it.
    module: str
    attribute: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    parameter_names: tuple[str, ...] = ()
    required_parameters: tuple[str, ...] = ()
    accepts_any_parameter: bool = False
    paused: bool = False
    concurrency_limit: int | None = None
    collision_strategy: str = "ENQUEUE"
    schedules: tuple[Cron | Interval, ...] = ()
    #: ``flowless build``'s hash of the project's code; None for ``serve``.
    code_hash: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"

    @property
    def id(self) -> str:
        return deployment_id(self.full_name)

    def schedule(self, slug: str) -> Cron | Interval:
        from flowless.schedules import slug_of

        for schedule in self.schedules:
            if slug_of(schedule) == slug:
                return schedule
        known = ", ".join(repr(slug_of(s)) for s in self.schedules) or "none"
        raise UnknownDeploymentError(
            f"Deployment {self.full_name!r} has no schedule {slug!r} (its schedules: {known})."
        )

    def check_parameters(self, parameters: Mapping[str, Any], require_all: bool = True) -> None:
        """Names only: types are checked against the flow's annotations when it starts
        (pydantic), where the flow itself is imported."""
        unknown = [k for k in parameters if k not in self.parameter_names]
        if unknown and not self.accepts_any_parameter:
            raise DeploymentParameterError(
                f"Deployment {self.full_name!r}: flow {self.flow_name!r} has no parameter(s) "
                f"{', '.join(map(repr, unknown))}; its parameters are "
                f"{', '.join(map(repr, self.parameter_names)) or 'none'}."
            )
        merged = {**self.parameters, **parameters}
        missing = [k for k in self.required_parameters if k not in merged]
        if missing and require_all:
            raise DeploymentParameterError(
                f"Deployment {self.full_name!r}: missing required parameter(s) "
                f"{', '.join(map(repr, missing))} of flow {self.flow_name!r}; pass them "
                "with parameters={...} (or -p name=value on the command line)."
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "flow_name": self.flow_name,
            "full_name": self.full_name,
            "id": self.id,
            "entrypoint": self.entrypoint,
            "module": self.module,
            "attribute": self.attribute,
            "description": self.description,
            "tags": list(self.tags),
            "parameters": dict(self.parameters),
            "parameter_names": list(self.parameter_names),
            "required_parameters": list(self.required_parameters),
            "accepts_any_parameter": self.accepts_any_parameter,
            "paused": self.paused,
            "concurrency_limit": self.concurrency_limit,
            "collision_strategy": self.collision_strategy,
            "schedules": [schedule_to_json(s) for s in self.schedules],
            "code_hash": self.code_hash,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeploymentDefinition:
        """``ValueError``/``TypeError``/``KeyError`` on anything that is not what
        ``to_json`` writes (callers report it as a corrupt record or manifest)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a deployment must be an object, got {type(data).__name__}")
        strategy = str(data.get("collision_strategy") or "ENQUEUE")
        if strategy not in COLLISION_STRATEGIES:
            raise ValueError(f"collision_strategy {strategy!r}")
        limit = data.get("concurrency_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise TypeError(f"concurrency_limit {limit!r}")
        parameters = data.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise TypeError(f"parameters {parameters!r}")
        return cls(
            name=_text(data, "name"),
            flow_name=_text(data, "flow_name"),
            entrypoint=_text(data, "entrypoint"),
            module=_text(data, "module"),
            attribute=_text(data, "attribute"),
            description=data.get("description"),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            parameters=MappingProxyType(dict(parameters)),
            parameter_names=tuple(str(n) for n in data.get("parameter_names") or ()),
            required_parameters=tuple(str(n) for n in data.get("required_parameters") or ()),
            accepts_any_parameter=bool(data.get("accepts_any_parameter", False)),
            paused=bool(data.get("paused", False)),
            concurrency_limit=limit,
            collision_strategy=strategy,
            schedules=tuple(schedule_from_json(s) for s in data.get("schedules") or ()),
            code_hash=data.get("code_hash"),
        )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{key} {value!r}")
    return value


def definition_from_flow(
    flow: Flow[..., Any],
    *,
    name: str,
    entrypoint: str | None = None,
    module: str | None = None,
    attribute: str | None = None,
    description: str | None = None,
    tags: tuple[str, ...] = (),
    parameters: Mapping[str, Any] | None = None,
    paused: bool = False,
    concurrency_limit: int | None = None,
    collision_strategy: str = "ENQUEUE",
    schedules: tuple[Cron | Interval, ...] = (),
    code_hash: str | None = None,
) -> DeploymentDefinition:
    """A definition for ``flow``, its default parameters checked against the flow's
    signature with pydantic now (``DeploymentParameterError`` names the problem), so a
    bad default fails the build or ``serve`` rather than every run."""
    from flowless._callables import module_name
    from flowless.exceptions import ParameterBindError, ParameterTypeError

    names, required, var_keyword = parameter_signature(flow)
    module = module or module_name(flow.fn)
    attribute = attribute or str(getattr(flow.fn, "__qualname__", flow.name))
    definition = DeploymentDefinition(
        name=name,
        flow_name=flow.name,
        entrypoint=entrypoint or f"{module}:{attribute}",
        module=module,
        attribute=attribute,
        description=description if description is not None else flow.description,
        tags=tuple(tags),
        parameters=MappingProxyType(dict(parameters or {})),
        parameter_names=names,
        required_parameters=required,
        accepts_any_parameter=var_keyword,
        paused=paused,
        concurrency_limit=concurrency_limit,
        collision_strategy=collision_strategy,
        schedules=tuple(schedules),
        code_hash=code_hash,
    )
    if concurrency_limit is not None and (
        isinstance(concurrency_limit, bool)
        or not isinstance(concurrency_limit, int)
        or concurrency_limit < 1
    ):
        raise DeploymentParameterError(
            f"Deployment {definition.full_name!r}: concurrency_limit must be a whole number "
            f">= 1, got {concurrency_limit!r}."
        )
    if collision_strategy not in COLLISION_STRATEGIES:
        raise DeploymentParameterError(
            f"Deployment {definition.full_name!r}: collision_strategy must be one of "
            f"{', '.join(COLLISION_STRATEGIES)}, got {collision_strategy!r}."
        )
    # The deployment's own parameters may leave required ones to run_deployment; a
    # schedule's slot runs with nothing else, so it must be complete.
    checks: list[tuple[Mapping[str, Any], bool]] = [(definition.parameters, False)]
    checks += [({**definition.parameters, **s.parameters}, True) for s in schedules]
    for given, complete in checks:
        definition.check_parameters(given, require_all=complete)
        if flow.validate_parameters and not var_keyword:
            from flowless.engine._parameters import validate_parameters

            try:
                bound = flow.shape.bind((), dict(given))
            except ParameterBindError:
                continue  # required ones missing: run_deployment must pass them
            try:
                validate_parameters(flow, bound)
            except ParameterTypeError as exc:
                raise DeploymentParameterError(
                    f"Deployment {definition.full_name!r}: parameters do not match flow "
                    f"{flow.name!r}'s signature: {exc}"
                ) from None
    return definition
