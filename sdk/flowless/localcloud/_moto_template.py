"""The translated template cut down to what moto's CloudFormation can create.

moto does not run the Lambda functions (the local cloud does) and has no Scheduler or
CloudWatch alarm resources, so those are left out of ``create_stack``; whatever names a
dropped function keeps working through the function's fixed name or ARN, and whatever
still needs a dropped resource goes with it. Resources created before the stack (the
secrets, ``_stack_secrets``) are left out too, and a ``Ref`` to one becomes its ARN. The
reference helpers are shared with the stage that creates the left-out resources
afterwards (``_stack_apply``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from flowless.localcloud._provisioned import ProvisionError

__all__ = [
    "APPLIED_RESOURCE_TYPES",
    "DROPPED_RESOURCE_TYPES",
    "SUB_VARIABLE",
    "for_moto",
    "function_names",
    "replace_function_references",
]

#: Resource types left out of the stack created in moto (see ``flowless.localcloud.provision``).
DROPPED_RESOURCE_TYPES = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
    }
)

#: Resource types moto's CloudFormation cannot create, created through their service APIs
#: once the stack exists, in this order (``_stack_apply``).
APPLIED_RESOURCE_TYPES = (
    "AWS::Scheduler::ScheduleGroup",
    "AWS::Scheduler::Schedule",
    "AWS::CloudWatch::Alarm",
    "AWS::S3::BucketPolicy",
)

#: A ``${Name}`` or ``${Name.Attribute}`` variable of ``Fn::Sub`` (``${!Text}`` is literal).
SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        elif set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            name = target.split(".", 1)[0] if isinstance(target, str) else target[0]
            found.add(str(name))
        elif set(node) == {"Fn::Sub"}:
            value = node["Fn::Sub"]
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
            for match in SUB_VARIABLE.findall(text):
                name = match.split(".", 1)[0]
                if name not in variables and not name.startswith("AWS::"):
                    found.add(name)
            found |= _references(variables)
        else:
            for value in node.values():
                found |= _references(value)
    return found


def _function_arn(name: Any) -> dict[str, Any]:
    if isinstance(name, dict) and set(name) == {"Fn::Sub"} and isinstance(name["Fn::Sub"], str):
        suffix: Any = name["Fn::Sub"]
    elif isinstance(name, str):
        suffix = name.replace("${", "${!")
    else:
        raise ProvisionError(f"Cannot turn the function name {name!r} into an ARN.")
    prefix = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    return {"Fn::Sub": prefix + suffix}


def replace_function_references(node: Any, names: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [replace_function_references(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in names:
        return copy.deepcopy(names[node["Ref"]])
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        if parts[0] in names and parts[1:] == ["Arn"]:
            return _function_arn(names[parts[0]])
    return {key: replace_function_references(value, names) for key, value in node.items()}


def function_names(resources: Mapping[str, Any]) -> dict[str, Any]:
    """The ``FunctionName`` of each Lambda function that has one, by logical id."""
    return {
        lid: res["Properties"]["FunctionName"]
        for lid, res in resources.items()
        if res["Type"] == "AWS::Lambda::Function" and "FunctionName" in res.get("Properties", {})
    }


def _replace_refs(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_replace_refs(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in values:
        return values[node["Ref"]]
    return {key: _replace_refs(value, values) for key, value in node.items()}


def for_moto(
    translated: Mapping[str, Any], created: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """The translated template without what moto cannot create, and the dropped ids.
    ``created``: resources made before the stack, by logical id, and what a ``Ref`` to
    each gives (its ARN); they are left out, and references to them replaced."""
    template = copy.deepcopy(dict(translated))
    if created:
        for lid in created:
            del template["Resources"][lid]
        template = _replace_refs(template, created)
    resources: dict[str, Any] = template["Resources"]
    left_out = DROPPED_RESOURCE_TYPES | set(APPLIED_RESOURCE_TYPES)
    dropped = {lid for lid, res in resources.items() if res["Type"] in left_out}
    names = function_names(resources)
    for lid in dropped:
        del resources[lid]
    template = replace_function_references(template, names)
    resources = template["Resources"]
    outputs: dict[str, Any] = template.get("Outputs", {})
    while True:  # drop what still refers to a dropped resource, until nothing does
        more = {lid for lid, r in resources.items() if _references(r.get("Properties")) & dropped}
        for lid in more:
            del resources[lid]
        dropped |= more
        for res in resources.values():
            depends = res.get("DependsOn")
            if isinstance(depends, str) and depends in dropped:
                del res["DependsOn"]
            elif isinstance(depends, list):
                res["DependsOn"] = [d for d in depends if d not in dropped]
        if not more:
            break
    for key in [key for key, out in outputs.items() if _references(out) & dropped]:
        del outputs[key]
    return template, dropped
