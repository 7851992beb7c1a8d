"""What moto's CloudFormation ignores or cannot create, done through the service APIs.

Once the stack exists: the table is checked against the template, the table's and the
bucket's settings moto ignores are applied, and the ``APPLIED_RESOURCE_TYPES``
(Scheduler's group and schedules, CloudWatch alarms) are created from their resolved
properties, so the local stack has what ``sam deploy`` would give it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flowless.localcloud._moto_template import (
    APPLIED_RESOURCE_TYPES,
    function_names,
    replace_function_references,
)
from flowless.localcloud._provisioned import ProvisionError
from flowless.localcloud._stack_resolver import Resolver

__all__ = [
    "Applied",
    "apply_bucket_settings",
    "apply_resources",
    "apply_table_settings",
    "check_table",
]


def check_table(dynamodb: Any, table_name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = dynamodb.describe_table(TableName=table_name)["Table"]

    def keys(schema: Iterable[Mapping[str, str]]) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in schema]

    def indexes(description: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
        gsis = description.get("GlobalSecondaryIndexes", [])
        return {g["IndexName"]: keys(g["KeySchema"]) for g in gsis}

    if keys(table["KeySchema"]) != keys(props["KeySchema"]):
        raise ProvisionError(
            f"Table {table_name!r} has keys {table['KeySchema']}, not the template's."
        )
    expected, actual = indexes(props), indexes(table)
    if actual != expected:
        raise ProvisionError(
            f"Table {table_name!r} has global secondary indexes {actual}, template: {expected}."
        )
    return table


def apply_table_settings(
    dynamodb: Any, table_name: str, props: Mapping[str, Any], ttl_name: str
) -> None:
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled", False):
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_name},
        )
    pitr = props.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled", False):
        dynamodb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def apply_bucket_settings(s3: Any, bucket_name: str, props: Mapping[str, Any]) -> None:
    block = props.get("PublicAccessBlockConfiguration")
    if block:
        s3.put_public_access_block(Bucket=bucket_name, PublicAccessBlockConfiguration=dict(block))


_SCHEDULE_FIELDS = (
    "Name",
    "GroupName",
    "Description",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "State",
    "FlexibleTimeWindow",
    "Target",
    "KmsKeyArn",
    "ActionAfterCompletion",
)


def _timestamp(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _without_tls_only(document: Mapping[str, Any]) -> dict[str, Any]:
    """The policy less its ``aws:SecureTransport`` statements: the local cloud serves
    plain HTTP on 127.0.0.1, where that condition never holds (moto enforces it, and
    every request would be denied). The template's own test checks those statements."""
    kept = [
        s
        for s in document.get("Statement", [])
        if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))
    ]
    return {**document, "Statement": kept}


@dataclass
class Applied:
    schedule_group: str | None = None
    schedules: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)


def apply_resources(
    client: Callable[[str], Any],
    translated: Mapping[str, Any],
    resolver: Resolver,
    physical: dict[str, str],
    stack_name: str,
) -> Applied:
    """Create the ``APPLIED_RESOURCE_TYPES`` resources from their resolved properties."""
    from botocore.exceptions import ClientError, ParamValidationError

    resources: Mapping[str, Any] = translated["Resources"]
    names = function_names(resources)
    applied = Applied()
    for kind in APPLIED_RESOURCE_TYPES:
        for lid in sorted(lid for lid, res in resources.items() if res["Type"] == kind):
            raw = replace_function_references(resources[lid].get("Properties", {}), names)
            props: dict[str, Any] = resolver.deep(raw)
            try:
                if kind == "AWS::Scheduler::ScheduleGroup":
                    name = str(props.get("Name") or f"{stack_name}-{lid}"[:64])
                    client("scheduler").create_schedule_group(Name=name)
                    applied.schedule_group = name
                elif kind == "AWS::Scheduler::Schedule":
                    name = str(props.get("Name") or f"{stack_name}-{lid}"[:64])
                    arguments = {k: props[k] for k in _SCHEDULE_FIELDS if k in props}
                    arguments["Name"] = name
                    for key in ("StartDate", "EndDate"):
                        if key in arguments:
                            arguments[key] = _timestamp(arguments[key])
                    client("scheduler").create_schedule(**arguments)
                    applied.schedules.append(name)
                elif kind == "AWS::S3::BucketPolicy":
                    name = str(props["Bucket"])
                    document = _without_tls_only(props["PolicyDocument"])
                    if document["Statement"]:
                        client("s3").put_bucket_policy(Bucket=name, Policy=json.dumps(document))
                else:
                    name = str(props.get("AlarmName") or f"{stack_name}-{lid}")
                    arguments = {k: v for k, v in props.items() if k != "Tags"}
                    arguments["AlarmName"] = name
                    if "Threshold" in arguments:
                        arguments["Threshold"] = float(arguments["Threshold"])
                    client("cloudwatch").put_metric_alarm(**arguments)
                    applied.alarms.append(name)
            except (ClientError, ParamValidationError) as exc:
                raise ProvisionError(f"Cannot create {lid} ({kind}) in moto: {exc}") from exc
            physical[lid] = name
    return applied
