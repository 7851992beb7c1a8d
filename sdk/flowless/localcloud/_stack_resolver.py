"""The template's intrinsics evaluated against a created stack, outside CloudFormation.

What moto does not create (the functions' settings, the schedules and alarms) is still
written in the template with ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub``; only the few
forms the templates use are evaluated, and anything else is an error rather than a
guess. ``stack_attributes`` reads ``Fn::GetAtt`` values back from the services.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowless.localcloud._moto_template import SUB_VARIABLE
from flowless.localcloud._provisioned import ProvisionError

__all__ = ["Resolver", "stack_attributes"]


def _no_attributes(logical_id: str, attribute: str) -> str:
    raise ProvisionError(f"Cannot resolve {logical_id}.{attribute} outside CloudFormation.")


@dataclass
class Resolver:
    """Evaluates the few intrinsics the functions' properties and the applied resources
    (``APPLIED_RESOURCE_TYPES``) use, against a created stack."""

    pseudo: Mapping[str, str]
    parameters: Mapping[str, str]
    physical: Mapping[str, str]
    #: ``Fn::GetAtt``: (logical id, attribute) -> value.
    attribute: Callable[[str, str], str] = _no_attributes

    def deep(self, node: Any) -> Any:
        """``node`` with every intrinsic in it resolved (mappings and lists walked)."""
        if isinstance(node, list):
            return [self.deep(item) for item in node]
        if isinstance(node, dict) and not (
            len(node) == 1 and (set(node) == {"Ref"} or next(iter(node)).startswith("Fn::"))
        ):
            return {key: self.deep(value) for key, value in node.items()}
        return self.value(node)

    def value(self, node: Any) -> Any:
        if isinstance(node, (str, int, float, bool)):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return self._name(node["Ref"])
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            parts = target.split(".", 1) if isinstance(target, str) else list(target)
            return self.attribute(str(parts[0]), str(parts[1]))
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            value = node["Fn::Sub"]
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
            local = {name: str(self.value(v)) for name, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in local:
                    return local[name]
                if "." in name and not name.startswith("AWS::"):
                    logical_id, attribute = name.split(".", 1)
                    return self.attribute(logical_id, attribute)
                return self._name(name)

            return SUB_VARIABLE.sub(substitute, text).replace("${!", "${")
        raise ProvisionError(f"Cannot resolve {json.dumps(node)} outside CloudFormation.")

    def _name(self, name: str) -> str:
        for source in (self.pseudo, self.parameters, self.physical):
            if name in source:
                return source[name]
        raise ProvisionError(f"Cannot resolve a reference to {name!r} outside CloudFormation.")


def stack_attributes(
    client: Callable[[str], Any],
    resources: Mapping[str, Any],
    physical: Mapping[str, str],
    partition: str,
) -> Callable[[str, str], str]:
    """``Fn::GetAtt`` for the attributes the templates use, read from the created stack."""

    def queue_url(lid: str) -> str:
        # moto's physical id is an amazonaws.com URL; ask the endpoint for its own.
        url: str = client("sqs").get_queue_url(QueueName=physical[lid].rsplit("/", 1)[-1])[
            "QueueUrl"
        ]
        return url

    def attribute(lid: str, name: str) -> str:
        if lid not in physical or lid not in resources:
            raise ProvisionError(f"Cannot resolve {lid}.{name}: {lid} was not created.")
        kind, value = resources[lid]["Type"], physical[lid]
        result: Any
        if (kind, name) == ("AWS::IAM::Role", "Arn"):
            result = client("iam").get_role(RoleName=value)["Role"]["Arn"]
        elif (kind, name) == ("AWS::SQS::Queue", "Arn"):
            answer = client("sqs").get_queue_attributes(
                QueueUrl=queue_url(lid), AttributeNames=["QueueArn"]
            )
            result = answer["Attributes"]["QueueArn"]
        elif (kind, name) == ("AWS::SQS::Queue", "QueueName"):
            result = value.rsplit("/", 1)[-1]
        elif (kind, name) == ("AWS::SQS::Queue", "QueueUrl"):
            result = queue_url(lid)
        elif (kind, name) == ("AWS::DynamoDB::Table", "Arn"):
            result = client("dynamodb").describe_table(TableName=value)["Table"]["TableArn"]
        elif (kind, name) == ("AWS::S3::Bucket", "Arn"):
            result = f"arn:{partition}:s3:::{value}"
        elif (kind, name) == ("AWS::Logs::LogGroup", "Arn"):
            [group] = [
                g
                for g in client("logs").describe_log_groups(logGroupNamePrefix=value)["logGroups"]
                if g["logGroupName"] == value
            ]
            result = group["arn"]
        elif (kind, name) == ("AWS::Scheduler::ScheduleGroup", "Arn"):
            result = client("scheduler").get_schedule_group(Name=value)["Arn"]
        else:
            raise ProvisionError(f"Cannot resolve {lid}.{name} ({kind}) outside CloudFormation.")
        return str(result)

    return attribute
