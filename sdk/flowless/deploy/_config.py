"""``flowless.yaml``: a project's deployments, read into frozen configuration.

The file uses ``prefect.yaml``'s field names where they apply::

    name: my-project                      # optional: the folder's name
    deployments:
      - name: daily-greeting
        entrypoint: flows.py:hello        # a file of the project, or package.module:attr
        description: Say hello every morning
        tags: [demo]
        parameters: {name: World}
        paused: false
        concurrency_limit: 1              # or {limit: 1, collision_strategy: CANCEL_NEW}
        schedules:
          - cron: "0 9 * * *"
            timezone: America/New_York
            slug: morning
          - interval: 3600                # seconds
            anchor_date: "2027-01-01T00:00:00"

``load_project`` checks everything that can be checked without importing the user's
code and raises ``ProjectError`` with one message naming the file, the deployment, the
field and the fix. ``flowless build`` then imports the entrypoints (filling
``DeploymentConfig.flow_name``) and checks the parameters against the flows.

``set_deployment`` is the writer behind ``flowless deploy``: it adds or updates one
deployment, validates the whole file before writing, and replaces it atomically.

Build-time only: nothing in the engine or the Lambda handlers imports this module.
"""

from __future__ import annotations

import copy
import math
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml  # type: ignore[import-untyped, unused-ignore]

from flowless.exceptions import FlowlessException
from flowless.schedules import Cron, Interval, ScheduleError, slug_of

__all__ = [
    "COLLISION_STRATEGIES",
    "DEPLOYMENT_FIELDS",
    "FILENAME",
    "PROJECT_FIELDS",
    "SCHEDULE_FIELDS",
    "ConcurrencyLimitConfig",
    "DeploymentConfig",
    "ProjectConfig",
    "ProjectError",
    "ScheduleConfig",
    "load_project",
    "set_deployment",
]

#: The project file's name, at the root of the project.
FILENAME = "flowless.yaml"

#: Where the user reads how deployments work (named in error messages).
_DOCS = "docs/deployments.md"

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

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
#: CloudFormation stack names; 55 leaves room for the ``-flow-run`` function suffix (64).
_STACK_NAME = re.compile(r"^[A-Za-z][-A-Za-z0-9]*$")
_STACK_NAME_MAX = 55
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_IDENTIFIER}(\.{_IDENTIFIER})*$")

_WORK_POOLS = f"flowless has no work pools: the stack is the pool (see {_DOCS})"
#: prefect.yaml fields with no meaning here, and why.
_PREFECT_ONLY: Mapping[str, str] = MappingProxyType(
    {
        "work_pool": _WORK_POOLS,
        "work_queue_name": _WORK_POOLS,
        "job_variables": f"{_WORK_POOLS}; memory and timeouts are the stack's parameters "
        "(FlowRunMemorySize, FlowRunTimeout, TaskRunMemorySize, TaskRunTimeout)",
        "build": f"{_WORK_POOLS}, and there are no build/push/pull steps: `flowless build` "
        "packages this folder and `sam deploy` ships it",
        "push": f"{_WORK_POOLS}, and there are no build/push/pull steps: `flowless build` "
        "packages this folder and `sam deploy` ships it",
        "pull": f"{_WORK_POOLS}, and there are no build/push/pull steps: the code ships in "
        "the Lambda package, nothing is pulled at run time",
        "version": f"{_WORK_POOLS}; each `sam deploy` ships the code, and the manifest "
        "records its hash",
        "enforce_parameter_schema": f"{_WORK_POOLS}; parameters are always validated against "
        "the flow's signature",
        "prefect-version": f"{_WORK_POOLS}, and no Prefect server whose version to pin",
        "triggers": f"{_WORK_POOLS}, and no event triggers: use schedules, or start runs "
        "with `flowless deployment run`",
    }
)


class ProjectError(FlowlessException):
    """``flowless.yaml`` is missing, unreadable or invalid; the message says how to fix it."""


# -- the configuration -----------------------------------------------------------------


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


# -- reading ---------------------------------------------------------------------------


def load_project(path: Path) -> ProjectConfig:
    """Read and check ``flowless.yaml`` (``path`` may also be the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(
            f"{path.name}: not found at {path.absolute()}. Run `flowless init` in your "
            "project folder to create it, or `flowless deploy <file.py>:<flow> -n <name>` "
            "to add a deployment."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(
            f"{path.name}: cannot read {path.absolute()}: {exc}. Check that it is a UTF-8 "
            "text file you can read."
        ) from None
    return _parse(text, path)


class _Loader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """Safe YAML, where a key given twice in one mapping is an error, not a silent
    overwrite (merge keys, ``<<: *anchor``, may still be overridden)."""


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key, first, again)
        self.key, self.first, self.again = key, first, again


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the constructor below says so
            continue
        if first is not None:
            raise _DuplicateKey(key, first, key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line + 1
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(text: str, filename: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ProjectError(
            f"{filename}: line {exc.again}: the key {exc.key!r} appears twice in one mapping "
            f"(first on line {exc.first}). Keep one of them."
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ProjectError(
            f"{filename}: {where}YAML syntax error: {problem}. Fix the YAML there "
            "(check the indentation, and quote values that contain ': ', '#' or start "
            "with '*', '&', '!', '{' or '[')."
        ) from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{filename}: YAML syntax error: {exc}. Fix the YAML.") from None


@dataclass(frozen=True)
class _At:
    """Where a problem is, for messages: the file and, inside a deployment, which one."""

    file: str
    deployment: str = ""

    def error(self, field_name: str | None, problem: str, fix: str) -> ProjectError:
        where = [self.deployment] if self.deployment else []
        if field_name:
            where.append(f"field '{field_name}'")
        prefix = f"{self.file}: {', '.join(where)}:" if where else f"{self.file}:"
        return ProjectError(f"{prefix} {problem}. {fix}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    return f"a {type(value).__name__}"


def _parse(text: str, path: Path) -> ProjectConfig:
    filename = path.name
    at = _At(filename)
    data = _read_yaml(text, filename)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise at.error(
            None,
            f"the file holds {_kind(data)}, not a mapping",
            "Write `name:` and `deployments:` at the top level (`flowless init` writes an "
            "example).",
        )
    _check_keys(at, "", data, PROJECT_FIELDS, "top-level")
    root = path.absolute().parent
    name = _project_name(at, data.get("name"), root)

    raw = data.get("deployments")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise at.error(
            "deployments",
            f"expected a list of deployments, got {_kind(raw)}",
            "Write each deployment as a list item (`- name: ...`).",
        )
    deployments: list[DeploymentConfig] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(raw):
        deployment = _deployment(filename, index, entry, root)
        if deployment.name in first_index:
            first = first_index[deployment.name]
            raise _At(filename, f"deployment '{deployment.name}' ({deployment.where})").error(
                "name",
                f"deployments[{first}] has the same name",
                "Give each deployment a distinct name.",
            )
        first_index[deployment.name] = index
        deployments.append(deployment)
    return ProjectConfig(path=path.absolute(), root=root, name=name, deployments=tuple(deployments))


def _check_keys(
    at: _At, prefix: str, data: Mapping[Any, Any], allowed: Sequence[str], what: str
) -> None:
    for key in data:
        if not isinstance(key, str):
            raise at.error(
                prefix.rstrip(".") or None,
                f"the key {key!r} is {_kind(key)}, not a field name",
                f"Use the {what} fields: {', '.join(allowed)}.",
            )
        if key in allowed:
            continue
        if key in _PREFECT_ONLY:
            raise at.error(
                f"{prefix}{key}",
                f"'{key}' is a Prefect setting flowless does not use: {_PREFECT_ONLY[key]}",
                "Remove the field.",
            )
        if key == "schedule" and "schedules" in allowed:
            raise at.error(
                f"{prefix}{key}",
                "'schedule' (one schedule) is Prefect 2's form",
                "Write `schedules:` as a list (`schedules: [{cron: '0 9 * * *'}]`).",
            )
        if key == "rrule":
            raise at.error(
                f"{prefix}{key}",
                "rrule schedules are not supported (EventBridge Scheduler has no RRULE)",
                "Write the schedule as `cron:` or `interval:` (seconds).",
            )
        raise at.error(
            f"{prefix}{key}",
            f"unknown {what} field '{key}'",
            f"Use only {', '.join(allowed)}.",
        )


def _default_project_name(root: Path) -> str:
    """The folder's name, made a valid stack name (letters, digits, '-'; a letter first)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", root.name)
    name = re.sub(r"^[^A-Za-z]+", "", name)
    name = re.sub(r"-{2,}", "-", name)[:_STACK_NAME_MAX].strip("-")
    return name or "flowless"


def _project_name(at: _At, value: Any, root: Path) -> str:
    if value is None:
        return _default_project_name(root)
    if not isinstance(value, str) or not value:
        raise at.error(
            "name",
            f"expected the project's name as a string, got {_kind(value)}",
            f"Write e.g. `name: {_default_project_name(root)}`, or remove it to use the "
            "folder's name.",
        )
    if not _STACK_NAME.match(value) or len(value) > _STACK_NAME_MAX:
        suggestion = _default_project_name(Path(value))
        raise at.error(
            "name",
            f"'{value}' cannot name the CloudFormation stack (letters, digits and '-', "
            f"starting with a letter, at most {_STACK_NAME_MAX} characters)",
            f"Rename it, e.g. '{suggestion}'.",
        )
    return value


def _deployment(filename: str, index: int, entry: Any, root: Path) -> DeploymentConfig:
    where = f"deployments[{index}]"
    at = _At(filename, f"deployment #{index + 1} ({where})")
    if not isinstance(entry, dict):
        raise at.error(
            None,
            f"expected a mapping, got {_kind(entry)}",
            "Write the deployment as `- name: ...` followed by `entrypoint: ...` on the "
            "next line, indented alike.",
        )
    raw_name = entry.get("name")
    if isinstance(raw_name, str) and raw_name:
        at = _At(filename, f"deployment '{raw_name}' ({where})")
    _check_keys(at, "", entry, DEPLOYMENT_FIELDS, "deployment")

    if raw_name is None:
        raise at.error("name", "missing", "Add `name: <deployment-name>`.")
    if not isinstance(raw_name, str) or not raw_name:
        raise at.error(
            "name", f"expected a string, got {_kind(raw_name)}", "Write e.g. `name: daily`."
        )
    if not _NAME.match(raw_name):
        suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw_name).strip("-") or "daily"
        raise at.error(
            "name",
            f"'{raw_name}' has characters other than letters, digits, '_', '.' and '-' "
            "(deployment names become part of AWS resource names)",
            f"Rename it, e.g. '{suggestion}'.",
        )

    entrypoint = _entrypoint(at, entry.get("entrypoint"), root)
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise at.error(
            "description",
            f"expected a string, got {_kind(description)}",
            "Quote the text, or remove the field.",
        )
    tags = _tags(at, entry.get("tags"))
    parameters = _parameters(at, "parameters", entry.get("parameters"))
    paused = entry.get("paused", False)
    if paused is None:
        paused = False
    if not isinstance(paused, bool):
        raise at.error(
            "paused", f"expected true or false, got {_kind(paused)}", "Write `paused: false`."
        )
    limit = _concurrency_limit(at, entry.get("concurrency_limit"))
    schedules = _schedules(at, where, entry.get("schedules"))
    return DeploymentConfig(
        name=raw_name,
        entrypoint=entrypoint,
        description=description,
        tags=tags,
        parameters=MappingProxyType(parameters),
        paused=paused,
        concurrency_limit=limit,
        schedules=schedules,
        where=where,
    )


def _entrypoint(at: _At, value: Any, root: Path) -> str:
    form = "`entrypoint: flows.py:my_flow` (a file of the project) or `package.module:my_flow`"
    if value is None:
        raise at.error("entrypoint", "missing", f"Add {form}.")
    if not isinstance(value, str):
        raise at.error("entrypoint", f"expected a string, got {_kind(value)}", f"Write {form}.")
    target, sep, attribute = value.rpartition(":")
    if not sep or not target or not _DOTTED.match(attribute):
        raise at.error(
            "entrypoint",
            f"'{value}' is not of the form <file.py or module>:<flow function>",
            f"Write {form}.",
        )
    if target.endswith(".py"):
        file = Path(target)
        if file.is_absolute() or ".." in file.parts:
            raise at.error(
                "entrypoint",
                f"'{target}' is not inside the project (the Lambda package holds only the "
                "folder of flowless.yaml)",
                "Give the file's path relative to that folder.",
            )
        if not (root / file).is_file():
            raise at.error(
                "entrypoint",
                f"file '{target}' not found in {root}",
                "Fix the path (relative to the folder holding flowless.yaml).",
            )
    elif not _DOTTED.match(target):
        raise at.error(
            "entrypoint",
            f"'{target}' is neither a .py file nor a module name",
            f"Write {form}.",
        )
    return value


def _tags(at: _At, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise at.error(
            "tags", f"expected a list of strings, got {_kind(value)}", "Write `tags: [a, b]`."
        )
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not tag:
            raise at.error(
                f"tags[{index}]",
                f"expected a non-empty string, got {_kind(tag)}",
                "Quote the tag.",
            )
    return tuple(value)


def _json_value(at: _At, field_name: str, value: Any) -> Any:
    """A deep copy of ``value``, if JSON can carry it (the manifest is JSON)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise at.error(
                field_name, f"{value} is not a finite number", "Use a finite number or a string."
            )
        return value
    if isinstance(value, list):
        return [_json_value(at, f"{field_name}[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, dict):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise at.error(
                    field_name,
                    f"the key {key!r} is {_kind(key)}; parameter names and keys are strings",
                    f"Quote it: '{key}'.",
                )
            copied[key] = _json_value(at, f"{field_name}.{key}", item)
        return copied
    if isinstance(value, (date, datetime)):
        raise at.error(
            field_name,
            f"YAML read {value.isoformat()} as {_kind(value)}, which the manifest (JSON) "
            "cannot hold",
            f"Quote it: '{value.isoformat()}' (the flow's type annotation converts it).",
        )
    raise at.error(
        field_name,
        f"{_kind(value)} cannot be stored in the manifest (JSON)",
        "Use strings, numbers, booleans, lists and mappings.",
    )


def _parameters(at: _At, field_name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise at.error(
            field_name,
            f"expected a mapping of parameter names to values, got {_kind(value)}",
            f"Write `{field_name.rsplit('.', 1)[-1]}: {{name: value}}`.",
        )
    copied: dict[str, Any] = _json_value(at, field_name, value)
    return copied


def _concurrency_limit(at: _At, value: Any) -> ConcurrencyLimitConfig | None:
    fix = (
        "Write `concurrency_limit: 1` (or more), or `concurrency_limit: {limit: 1, "
        "collision_strategy: CANCEL_NEW}`; remove the field for no limit."
    )
    if value is None:
        return None
    if isinstance(value, dict):
        for key in value:
            if key not in ("limit", "collision_strategy"):
                raise at.error(
                    f"concurrency_limit.{key}",
                    f"unknown field '{key}'",
                    "Use only limit and collision_strategy.",
                )
        if "limit" not in value:
            raise at.error("concurrency_limit.limit", "missing", fix)
        limit = _positive_limit(at, "concurrency_limit.limit", value["limit"], fix)
        strategy = value.get("collision_strategy", "ENQUEUE")
        if strategy is None:
            strategy = "ENQUEUE"
        if strategy not in COLLISION_STRATEGIES:
            raise at.error(
                "concurrency_limit.collision_strategy",
                f"{strategy!r} is not a collision strategy",
                "Use ENQUEUE (wait for a slot, the default) or CANCEL_NEW (cancel the new run).",
            )
        return ConcurrencyLimitConfig(limit=limit, collision_strategy=strategy)
    return ConcurrencyLimitConfig(limit=_positive_limit(at, "concurrency_limit", value, fix))


def _positive_limit(at: _At, field_name: str, value: Any, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.error(field_name, f"expected a whole number, got {_kind(value)}", fix)
    if value < 1:
        raise at.error(field_name, f"must be 1 or more, got {value}", fix)
    return value


def _schedules(at: _At, where: str, value: Any) -> tuple[ScheduleConfig, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise at.error(
            "schedules",
            f"expected a list of schedules, got {_kind(value)}",
            "Write each schedule as a list item (`- cron: '0 9 * * *'`).",
        )
    schedules: list[ScheduleConfig] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(value):
        schedule = _schedule(at, f"schedules[{index}]", entry)
        slug = slug_of(schedule)
        if slug in first_index:
            raise at.error(
                f"schedules[{index}]",
                f"schedules[{first_index[slug]}] and schedules[{index}] have the same slug "
                f"'{slug}' (a slug identifies a schedule's runs)",
                "Give each schedule a distinct `slug:`.",
            )
        first_index[slug] = index
        schedules.append(ScheduleConfig(schedule=schedule, where=f"{where}.schedules[{index}]"))
    return tuple(schedules)


def _schedule(at: _At, prefix: str, entry: Any) -> Cron | Interval:
    if not isinstance(entry, dict):
        raise at.error(
            prefix,
            f"expected a mapping, got {_kind(entry)}",
            "Write `- cron: '0 9 * * *'` or `- interval: 3600` (seconds).",
        )
    _check_keys(at, f"{prefix}.", entry, SCHEDULE_FIELDS, "schedule")
    has_cron, has_interval = "cron" in entry, "interval" in entry
    if has_cron == has_interval:
        problem = "has both cron and interval" if has_cron else "has neither cron nor interval"
        raise at.error(
            prefix,
            problem,
            "Give exactly one: `cron: '0 9 * * *'` or `interval: 3600` (seconds); "
            "write two schedules for both.",
        )
    timezone = _timezone(at, f"{prefix}.timezone", entry.get("timezone"))
    active = _flag(at, f"{prefix}.active", entry.get("active"), True)
    parameters = _parameters(at, f"{prefix}.parameters", entry.get("parameters"))
    slug = entry.get("slug")
    if slug is not None and (not isinstance(slug, str) or not slug.strip()):
        raise at.error(
            f"{prefix}.slug",
            f"expected a non-empty string, got {_kind(slug)}",
            "Write e.g. `slug: morning`, or remove it.",
        )
    if has_cron:
        if "anchor_date" in entry:
            raise at.error(
                f"{prefix}.anchor_date",
                "anchor_date applies to interval schedules only",
                "Remove it (a cron expression fixes its own times).",
            )
        cron = entry["cron"]
        if not isinstance(cron, str):
            raise at.error(
                f"{prefix}.cron",
                f"expected a cron expression as a string, got {_kind(cron)}",
                "Quote it: `cron: '0 9 * * *'`.",
            )
        day_or = _flag(at, f"{prefix}.day_or", entry.get("day_or"), True)
        try:
            return Cron(
                cron,
                timezone=timezone,
                day_or=day_or,
                active=active,
                parameters=parameters,
                slug=slug,
            )
        except ScheduleError as exc:
            raise _schedule_error(at, prefix, "cron", exc) from None
    if "day_or" in entry:
        raise at.error(
            f"{prefix}.day_or",
            "day_or applies to cron schedules only",
            "Remove it.",
        )
    interval = entry["interval"]
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise at.error(
            f"{prefix}.interval",
            f"expected a positive number of seconds, got {_kind(interval)}"
            + (f" ({interval})" if isinstance(interval, (int, float)) else ""),
            "Write e.g. `interval: 3600` for hourly.",
        )
    anchor = _anchor(at, f"{prefix}.anchor_date", entry.get("anchor_date"))
    try:
        return Interval(
            timedelta(seconds=interval),
            anchor_date=anchor,
            timezone=timezone,
            active=active,
            parameters=parameters,
            slug=slug,
        )
    except ScheduleError as exc:
        raise _schedule_error(at, prefix, "interval", exc) from None


#: The fields flowless.schedules names first in its messages.
_SCHEDULE_ERROR_FIELDS = frozenset(SCHEDULE_FIELDS) | {"slug"}
_CRON_FIX = "Fix the expression (5 fields: minute hour day-of-month month day-of-week)."
_HINT = re.compile(r"^(?P<problem>.*?):\s+(?P<hint>(?:write|use)\b.*)$", re.DOTALL)


def _schedule_error(at: _At, prefix: str, kind: str, exc: ScheduleError) -> ProjectError:
    """``flowless.schedules``' message, as one naming the field and the fix."""
    message = str(exc).strip().rstrip(".")
    first = message.split(" ", 1)[0]
    field_name = first if first in _SCHEDULE_ERROR_FIELDS else kind
    if field_name == "cron":
        problem = re.sub(r"\s*\(5 fields: [^)]*\)", "", message)
        return at.error(f"{prefix}.cron", problem, _CRON_FIX)
    hint = _HINT.match(message)
    if hint:
        fix = hint["hint"][:1].upper() + hint["hint"][1:]
        return at.error(f"{prefix}.{field_name}", hint["problem"], f"{fix}.")
    return at.error(f"{prefix}.{field_name}", message, f"Fix `{field_name}`.")


def _flag(at: _At, field_name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise at.error(
            field_name,
            f"expected true or false, got {_kind(value)}",
            f"Write `{field_name.rsplit('.', 1)[-1]}: {str(default).lower()}`.",
        )
    return value


def _timezone(at: _At, field_name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise at.error(
            field_name,
            f"expected a time zone name, got {_kind(value)}",
            "Use an IANA time zone name such as 'America/New_York', 'Europe/London' or 'UTC'.",
        )
    return value  # the name itself is checked by Cron/Interval (with a suggestion)


def _anchor(at: _At, field_name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    fix = "Write an ISO 8601 date and time, e.g. `anchor_date: '2027-01-01T00:00:00'`."
    if not isinstance(value, str):
        raise at.error(field_name, f"expected a date and time, got {_kind(value)}", fix)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise at.error(field_name, f"'{value}' is not an ISO 8601 date and time", fix) from None


# -- writing ---------------------------------------------------------------------------


def set_deployment(
    path: Path,
    *,
    entrypoint: str,
    name: str,
    cron: str | None = None,
    interval: float | None = None,
    timezone: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    description: str | None = None,
    tags: Sequence[str] | None = None,
) -> str:
    """Add the deployment ``name`` to ``flowless.yaml``, or update the one of that name.

    Behind ``flowless deploy flows.py:my_flow -n daily-greeting --cron "0 9 * * *"``.
    An update sets the entrypoint and whatever else is given; its schedules are replaced
    only when ``cron`` or ``interval`` is given (one schedule, with ``timezone``). The
    other deployments and fields stay as they were, in their order. The file (``path``,
    or ``flowless.yaml`` in the folder ``path``) is created if missing.

    The result is checked with the same rules as ``load_project`` *before* anything is
    written: on a ``ProjectError`` the file is untouched. The write is atomic (a temporary
    file in the same folder, then ``os.replace``).

    PyYAML does not keep comments: only the comment lines at the top of the file survive
    an update; comments elsewhere, and YAML anchors, are lost (values are kept).

    Returns ``"Created"`` (a new deployment, in a new file or not) or ``"Updated"``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    at = _At(path.name, f"deployment '{name}'")
    if cron is not None and interval is not None:
        raise at.error(
            "schedules", "got both a cron and an interval", "Give one (add the other later)."
        )
    if timezone is not None and cron is None and interval is None:
        raise at.error(
            "schedules",
            "a time zone was given without a cron or an interval",
            "Give the schedule's cron or interval with its time zone.",
        )

    existed = path.exists()
    header = ""
    if existed:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{path.name}: cannot read {path.absolute()}: {exc}.") from None
        data = _read_yaml(text, path.name)
        header = _leading_comments(text)
    else:
        data = None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _At(path.name).error(
            None,
            f"the file holds {_kind(data)}, not a mapping",
            "Fix it (or move it away) before adding a deployment.",
        )
    deployments = data.get("deployments")
    if deployments is None:
        deployments = data["deployments"] = []
    if not isinstance(deployments, list):
        raise _At(path.name).error(
            "deployments",
            f"expected a list of deployments, got {_kind(deployments)}",
            "Fix it before adding a deployment.",
        )

    schedule: dict[str, Any] | None = None
    if cron is not None:
        schedule = {"cron": cron}
    elif interval is not None:
        schedule = {"interval": int(interval) if float(interval).is_integer() else interval}
    if schedule is not None and timezone is not None:
        schedule["timezone"] = timezone

    entry = next(
        (d for d in deployments if isinstance(d, dict) and d.get("name") == name),
        None,
    )
    created = entry is None
    if entry is None:
        entry = {"name": name}
        deployments.append(entry)
    entry["entrypoint"] = entrypoint
    if description is not None:
        entry["description"] = description
    if tags is not None:
        entry["tags"] = list(tags)
    if parameters is not None:
        entry["parameters"] = copy.deepcopy(dict(parameters))
    if schedule is not None:
        entry["schedules"] = [schedule]

    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    new_text = header + body
    _parse(new_text, path)  # raises ProjectError: nothing written
    _write_atomically(path, new_text)

    return "Created" if created else "Updated"


def _leading_comments(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("#") or (lines and not line.strip()):
            lines.append(line)
        else:
            break
    header = "".join(lines).rstrip()
    return header + "\n" if header else ""


def _write_atomically(path: Path, text: str) -> None:
    directory = path.absolute().parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
