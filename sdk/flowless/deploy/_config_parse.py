"""``flowless.yaml``'s text into a ``ProjectConfig``: the YAML, the top level, each deployment.

Shared by ``load_project`` and by the writer (``_config_edit``), which parses what it
is about to write so that a file it would make invalid is never written. The YAML is
read safely, and a key given twice is an error rather than PyYAML's silent overwrite.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from flowless.deploy._config_fields import (
    At,
    check_keys,
    kind_of,
    parse_concurrency_limit,
    parse_entrypoint,
    parse_parameters,
    parse_tags,
)
from flowless.deploy._config_model import (
    DEPLOYMENT_FIELDS,
    PROJECT_FIELDS,
    DeploymentConfig,
    ProjectConfig,
    ProjectError,
)
from flowless.deploy._config_schedules import parse_schedules

__all__ = ["parse_project", "read_yaml"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
#: CloudFormation stack names; 55 leaves room for the ``-flow-run`` function suffix (64).
_STACK_NAME = re.compile(r"^[A-Za-z][-A-Za-z0-9]*$")
_STACK_NAME_MAX = 55


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


def read_yaml(text: str, filename: str) -> Any:
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


def parse_project(text: str, path: Path) -> ProjectConfig:
    filename = path.name
    at = At(filename)
    data = read_yaml(text, filename)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise at.error(
            None,
            f"the file holds {kind_of(data)}, not a mapping",
            "Write `name:` and `deployments:` at the top level (`flowless init` writes an "
            "example).",
        )
    check_keys(at, "", data, PROJECT_FIELDS, "top-level")
    root = path.absolute().parent
    name = _project_name(at, data.get("name"), root)

    raw = data.get("deployments")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise at.error(
            "deployments",
            f"expected a list of deployments, got {kind_of(raw)}",
            "Write each deployment as a list item (`- name: ...`).",
        )
    deployments: list[DeploymentConfig] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(raw):
        deployment = _deployment(filename, index, entry, root)
        if deployment.name in first_index:
            first = first_index[deployment.name]
            raise At(filename, f"deployment '{deployment.name}' ({deployment.where})").error(
                "name",
                f"deployments[{first}] has the same name",
                "Give each deployment a distinct name.",
            )
        first_index[deployment.name] = index
        deployments.append(deployment)
    return ProjectConfig(path=path.absolute(), root=root, name=name, deployments=tuple(deployments))


def _default_project_name(root: Path) -> str:
    """The folder's name, made a valid stack name (letters, digits, '-'; a letter first)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", root.name)
    name = re.sub(r"^[^A-Za-z]+", "", name)
    name = re.sub(r"-{2,}", "-", name)[:_STACK_NAME_MAX].strip("-")
    return name or "flowless"


def _project_name(at: At, value: Any, root: Path) -> str:
    if value is None:
        return _default_project_name(root)
    if not isinstance(value, str) or not value:
        raise at.error(
            "name",
            f"expected the project's name as a string, got {kind_of(value)}",
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
    at = At(filename, f"deployment #{index + 1} ({where})")
    if not isinstance(entry, dict):
        raise at.error(
            None,
            f"expected a mapping, got {kind_of(entry)}",
            "Write the deployment as `- name: ...` followed by `entrypoint: ...` on the "
            "next line, indented alike.",
        )
    raw_name = entry.get("name")
    if isinstance(raw_name, str) and raw_name:
        at = At(filename, f"deployment '{raw_name}' ({where})")
    check_keys(at, "", entry, DEPLOYMENT_FIELDS, "deployment")

    if raw_name is None:
        raise at.error("name", "missing", "Add `name: <deployment-name>`.")
    if not isinstance(raw_name, str) or not raw_name:
        raise at.error(
            "name", f"expected a string, got {kind_of(raw_name)}", "Write e.g. `name: daily`."
        )
    if not _NAME.match(raw_name):
        suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw_name).strip("-") or "daily"
        raise at.error(
            "name",
            f"'{raw_name}' has characters other than letters, digits, '_', '.' and '-' "
            "(deployment names become part of AWS resource names)",
            f"Rename it, e.g. '{suggestion}'.",
        )

    entrypoint = parse_entrypoint(at, entry.get("entrypoint"), root)
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise at.error(
            "description",
            f"expected a string, got {kind_of(description)}",
            "Quote the text, or remove the field.",
        )
    tags = parse_tags(at, entry.get("tags"))
    parameters = parse_parameters(at, "parameters", entry.get("parameters"))
    paused = entry.get("paused", False)
    if paused is None:
        paused = False
    if not isinstance(paused, bool):
        raise at.error(
            "paused", f"expected true or false, got {kind_of(paused)}", "Write `paused: false`."
        )
    limit = parse_concurrency_limit(at, entry.get("concurrency_limit"))
    schedules = parse_schedules(at, where, entry.get("schedules"))
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
