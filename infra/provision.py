"""Provisioning ``template.yaml`` into moto: the local cloud's stack, and the tests'.

The SAM template is translated to plain CloudFormation offline (``samtranslator``, with a
local managed-policy map instead of IAM calls), then created through CloudFormation on
the given boto3 session: moto in process (``mock_aws``) or a moto server
(``endpoint_url``). The table and the bucket are the template's, created by
CloudFormation; nothing here repeats their schema.

What moto cannot do, and what this module does instead (docs/deploy.md):

- Lambda: the functions' code is a ``sam build`` artifact, and the local cloud runs the
  handlers itself (its own invoke endpoint), so the Lambda resources
  (``AWS::Lambda::Function``, ``LayerVersion``, ``EventInvokeConfig``, ``Permission``,
  ``Version``, ``Alias``) are dropped before ``create_stack``. A reference to a dropped
  function (``Ref``, ``GetAtt ... .Arn``) becomes the function's fixed name or ARN, so
  anything else that names a function still gets created; other resources or outputs that
  refer to a dropped resource are dropped with it.
- ``TimeToLiveSpecification`` and ``PointInTimeRecoverySpecification`` of the table and
  ``PublicAccessBlockConfiguration`` of the bucket are ignored by moto's CloudFormation;
  they are applied with ``update_time_to_live``, ``update_continuous_backups`` and
  ``put_public_access_block`` once the stack exists.
- The table's keys and global secondary indexes are checked against the template after
  creation; a difference is an error.

The functions' names, handlers, timeouts, memory and environment are resolved from the
template (they are what ``sam deploy`` would create) and returned in ``Provisioned``.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infra.template import TEMPLATE, load_template, ttl_attribute

__all__ = [
    "DROPPED_RESOURCE_TYPES",
    "LocalManagedPolicyLoader",
    "Provisioned",
    "ProvisionError",
    "ProvisionedFunction",
    "provision",
    "translate",
]

#: Resource types left out of the stack created in moto (see the module docstring).
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

#: Stand-in for local ``CodeUri``/``ContentUri`` paths, which samtranslator refuses (only
#: ``sam build``/``sam package`` turn them into S3 locations). Never created or read.
_PLACEHOLDER_CODE_BUCKET = "flowless-local-code-placeholder"

_STATE_TABLE = "StateTable"
_RESULTS_BUCKET = "ResultsBucket"
_FLOW_FUNCTION = "FlowRunFunction"
_TASK_FUNCTION = "TaskRunFunction"

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class ProvisionError(RuntimeError):
    """The template could not be translated, created, or checked in the target."""


class LocalManagedPolicyLoader:
    """samtranslator's managed-policy loader, offline.

    samtranslator asks for the name -> ARN map of AWS managed policies only when a
    function's ``Policies`` names one; its own loader lists them through IAM. This one
    answers from a fixed map (the policies a SAM template is likely to name) and never
    calls AWS; ``partition`` picks the ARN prefix.
    """

    POLICIES = (
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole",
        "AWSXRayDaemonWriteAccess",
        "AWSLambdaRole",
    )
    _PATHS: Mapping[str, str] = MappingProxyType(
        {
            "AWSLambdaBasicExecutionRole": "service-role/",
            "AWSLambdaVPCAccessExecutionRole": "service-role/",
            "AWSLambdaRole": "service-role/",
        }
    )

    def __init__(self, partition: str = "aws") -> None:
        self.partition = partition

    def load(self) -> dict[str, str]:
        return {
            name: f"arn:{self.partition}:iam::aws:policy/{self._PATHS.get(name, '')}{name}"
            for name in self.POLICIES
        }


@dataclass(frozen=True)
class ProvisionedFunction:
    """A function as ``sam deploy`` would create it (moto does not create it)."""

    logical_id: str
    name: str
    handler: str
    timeout: int
    memory_size: int
    environment: Mapping[str, str] = field(compare=False)


@dataclass(frozen=True)
class Provisioned:
    """Physical names of a provisioned stack."""

    stack_name: str
    region: str
    table_name: str
    bucket_name: str
    flow_function_name: str
    task_function_name: str
    #: By logical id (``FlowRunFunction``, ``TaskRunFunction``).
    functions: Mapping[str, ProvisionedFunction] = field(compare=False)


# -- translation -----------------------------------------------------------------------


def _with_placeholder_code(template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(template)
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = {"Bucket": _PLACEHOLDER_CODE_BUCKET, "Key": f"{logical_id}.zip"}
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = {"Bucket": _PLACEHOLDER_CODE_BUCKET, "Key": f"{logical_id}.zip"}
    return template


def translate(
    template: Mapping[str, Any], region: str, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, translated offline by samtranslator.

    Local code paths become placeholder S3 locations (the code is not deployed here).
    """
    import boto3
    from samtranslator.metrics.metrics import (  # type: ignore[import-untyped]
        DummyMetricsPublisher,
        Metrics,
    )
    from samtranslator.model.exceptions import InvalidDocumentException  # type: ignore[import-untyped]
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.arn_generator import ArnGenerator  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

    partition = ArnGenerator.get_partition_name(region)
    loader = LocalManagedPolicyLoader(partition)
    # A session only tells samtranslator the region; it makes no call with it.
    session = boto3.Session(region_name=region)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())  # nothing is sent
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    try:
        translated: dict[str, Any] = translator.translate(
            _with_placeholder_code(dict(template)),
            parameter_values=dict(parameters or {}),
            get_managed_policy_map=loader.load,
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes)
        raise ProvisionError(f"samtranslator rejected the template: {causes}") from exc
    finally:
        metrics.publish()  # to the dummy publisher: drops them, and keeps __del__ quiet
    return translated


# -- what moto can create ----------------------------------------------------------------


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
            for match in _SUB_VARIABLE.findall(text):
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


def _replace_function_references(node: Any, names: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_replace_function_references(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in names:
        return copy.deepcopy(names[node["Ref"]])
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        if parts[0] in names and parts[1:] == ["Arn"]:
            return _function_arn(names[parts[0]])
    return {key: _replace_function_references(value, names) for key, value in node.items()}


def _for_moto(translated: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The translated template without what moto cannot create, and the dropped ids."""
    template = copy.deepcopy(dict(translated))
    resources: dict[str, Any] = template["Resources"]
    dropped = {lid for lid, res in resources.items() if res["Type"] in DROPPED_RESOURCE_TYPES}
    names = {
        lid: resources[lid]["Properties"]["FunctionName"]
        for lid in dropped
        if resources[lid]["Type"] == "AWS::Lambda::Function"
        and "FunctionName" in resources[lid].get("Properties", {})
    }
    for lid in dropped:
        del resources[lid]
    template = _replace_function_references(template, names)
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


# -- resolving what the template says about the functions ---------------------------------


@dataclass
class _Resolver:
    """Evaluates the few intrinsics a function's properties use, against a created stack."""

    pseudo: Mapping[str, str]
    parameters: Mapping[str, str]
    physical: Mapping[str, str]

    def value(self, node: Any) -> Any:
        if isinstance(node, (str, int, float, bool)):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return self._name(node["Ref"])
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            value = node["Fn::Sub"]
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
            local = {name: str(self.value(v)) for name, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                return local[name] if name in local else self._name(name)

            return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")
        raise ProvisionError(f"Cannot resolve {json.dumps(node)} outside CloudFormation.")

    def _name(self, name: str) -> str:
        for source in (self.pseudo, self.parameters, self.physical):
            if name in source:
                return source[name]
        raise ProvisionError(f"Cannot resolve a reference to {name!r} outside CloudFormation.")


def _functions(
    translated: Mapping[str, Any], resolver: _Resolver
) -> dict[str, ProvisionedFunction]:
    functions = {}
    for lid, res in translated["Resources"].items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        props = res["Properties"]
        if "FunctionName" not in props:
            raise ProvisionError(
                f"{lid} has no FunctionName; the local cloud needs fixed function names."
            )
        variables = props.get("Environment", {}).get("Variables", {})
        functions[lid] = ProvisionedFunction(
            logical_id=lid,
            name=str(resolver.value(props["FunctionName"])),
            handler=str(resolver.value(props["Handler"])),
            timeout=int(resolver.value(props.get("Timeout", 3))),
            memory_size=int(resolver.value(props.get("MemorySize", 128))),
            environment=MappingProxyType(
                {name: str(resolver.value(value)) for name, value in variables.items()}
            ),
        )
    return functions


# -- provisioning ------------------------------------------------------------------------


def _wait_for_stack(cloudformation: Any, stack_name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack
        if not status.endswith("IN_PROGRESS"):
            reason = stack.get("StackStatusReason", "")
            raise ProvisionError(f"Stack {stack_name!r} ended {status}: {reason}")
        if time.monotonic() > deadline:
            raise ProvisionError(f"Stack {stack_name!r} still {status} after {timeout} s.")
        time.sleep(0.1)


def _check_table(dynamodb: Any, table_name: str, props: Mapping[str, Any]) -> dict[str, Any]:
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


def _apply_table_settings(
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


def _apply_bucket_settings(s3: Any, bucket_name: str, props: Mapping[str, Any]) -> None:
    block = props.get("PublicAccessBlockConfiguration")
    if block:
        s3.put_public_access_block(Bucket=bucket_name, PublicAccessBlockConfiguration=dict(block))


def provision(
    session: Any,
    stack_name: str = "flowless",
    *,
    endpoint_url: str | None = None,
    parameters: Mapping[str, str] | None = None,
    template_path: Path = TEMPLATE,
    timeout: float = 60.0,
) -> Provisioned:
    """Create ``template.yaml``'s stack through CloudFormation on ``session`` (moto).

    ``session`` is a ``boto3.Session`` with a region; ``endpoint_url`` points its clients
    at a moto server (leave it out inside ``mock_aws``). ``parameters`` override the
    template's parameter defaults. Each stack name gets its own table, bucket and names.
    """
    from botocore.exceptions import ClientError

    region = session.region_name
    if not region:
        raise ProvisionError("The boto3 session has no region.")

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    template = load_template(template_path)
    given = dict(parameters or {})
    translated = translate(template, region, given)
    body, _dropped = _for_moto(translated)
    resources = translated["Resources"]
    for required in (_STATE_TABLE, _RESULTS_BUCKET, _FLOW_FUNCTION, _TASK_FUNCTION):
        if required not in resources:
            raise ProvisionError(f"The template has no {required} resource.")

    cloudformation = client("cloudformation")
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(body),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
    except ClientError as exc:
        raise ProvisionError(f"Cannot create stack {stack_name!r}: {exc}") from exc
    _wait_for_stack(cloudformation, stack_name, timeout)
    summaries = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}

    table_name = physical[_STATE_TABLE]
    bucket_name = physical[_RESULTS_BUCKET]
    table_props = resources[_STATE_TABLE]["Properties"]
    dynamodb = client("dynamodb")
    table = _check_table(dynamodb, table_name, table_props)
    _apply_table_settings(dynamodb, table_name, table_props, ttl_attribute(template_path))
    _apply_bucket_settings(client("s3"), bucket_name, resources[_RESULTS_BUCKET]["Properties"])

    arn = table["TableArn"].split(":")  # arn:<partition>:dynamodb:<region>:<account>:table/..
    partition, account = arn[1], arn[4]
    defaults = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    resolver = _Resolver(
        pseudo={
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com",
        },
        parameters={**defaults, **given},
        physical=physical,
    )
    functions = _functions(translated, resolver)
    return Provisioned(
        stack_name=stack_name,
        region=region,
        table_name=table_name,
        bucket_name=bucket_name,
        flow_function_name=functions[_FLOW_FUNCTION].name,
        task_function_name=functions[_TASK_FUNCTION].name,
        functions=MappingProxyType(functions),
    )
