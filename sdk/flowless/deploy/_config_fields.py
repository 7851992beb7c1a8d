"""The checks of one deployment's fields in ``flowless.yaml``, each with its message.

Every problem is reported as a ``ProjectError`` naming the file, the deployment, the
field and the fix (``At.error``), so a user reads one line and knows what to change;
that wording is the bulk of this module. Schedules have their own module
(``_config_schedules``); the file as a whole is ``_config_parse``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flowless.deploy._config_model import (
    COLLISION_STRATEGIES,
    ConcurrencyLimitConfig,
    ProjectError,
)

__all__ = [
    "At",
    "check_keys",
    "kind_of",
    "parse_concurrency_limit",
    "parse_entrypoint",
    "parse_parameters",
    "parse_tags",
]

#: Where the user reads how deployments work (named in error messages).
_DOCS = "docs/deployments.md"

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


@dataclass(frozen=True)
class At:
    """Where a problem is, for messages: the file and, inside a deployment, which one."""

    file: str
    deployment: str = ""

    def error(self, field_name: str | None, problem: str, fix: str) -> ProjectError:
        where = [self.deployment] if self.deployment else []
        if field_name:
            where.append(f"field '{field_name}'")
        prefix = f"{self.file}: {', '.join(where)}:" if where else f"{self.file}:"
        return ProjectError(f"{prefix} {problem}. {fix}")


def kind_of(value: Any) -> str:
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


def check_keys(
    at: At, prefix: str, data: Mapping[Any, Any], allowed: Sequence[str], what: str
) -> None:
    for key in data:
        if not isinstance(key, str):
            raise at.error(
                prefix.rstrip(".") or None,
                f"the key {key!r} is {kind_of(key)}, not a field name",
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


def parse_entrypoint(at: At, value: Any, root: Path) -> str:
    form = "`entrypoint: flows.py:my_flow` (a file of the project) or `package.module:my_flow`"
    if value is None:
        raise at.error("entrypoint", "missing", f"Add {form}.")
    if not isinstance(value, str):
        raise at.error("entrypoint", f"expected a string, got {kind_of(value)}", f"Write {form}.")
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


def parse_tags(at: At, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise at.error(
            "tags", f"expected a list of strings, got {kind_of(value)}", "Write `tags: [a, b]`."
        )
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not tag:
            raise at.error(
                f"tags[{index}]",
                f"expected a non-empty string, got {kind_of(tag)}",
                "Quote the tag.",
            )
    return tuple(value)


def _json_value(at: At, field_name: str, value: Any) -> Any:
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
                    f"the key {key!r} is {kind_of(key)}; parameter names and keys are strings",
                    f"Quote it: '{key}'.",
                )
            copied[key] = _json_value(at, f"{field_name}.{key}", item)
        return copied
    if isinstance(value, (date, datetime)):
        raise at.error(
            field_name,
            f"YAML read {value.isoformat()} as {kind_of(value)}, which the manifest (JSON) "
            "cannot hold",
            f"Quote it: '{value.isoformat()}' (the flow's type annotation converts it).",
        )
    raise at.error(
        field_name,
        f"{kind_of(value)} cannot be stored in the manifest (JSON)",
        "Use strings, numbers, booleans, lists and mappings.",
    )


def parse_parameters(at: At, field_name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise at.error(
            field_name,
            f"expected a mapping of parameter names to values, got {kind_of(value)}",
            f"Write `{field_name.rsplit('.', 1)[-1]}: {{name: value}}`.",
        )
    copied: dict[str, Any] = _json_value(at, field_name, value)
    return copied


def parse_concurrency_limit(at: At, value: Any) -> ConcurrencyLimitConfig | None:
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


def _positive_limit(at: At, field_name: str, value: Any, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.error(field_name, f"expected a whole number, got {kind_of(value)}", fix)
    if value < 1:
        raise at.error(field_name, f"must be 1 or more, got {value}", fix)
    return value
