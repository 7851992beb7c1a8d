"""infra.provision: template.yaml's stack in moto, in process and through a moto server."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from infra.provision import (
    DROPPED_RESOURCE_TYPES,
    LocalManagedPolicyLoader,
    Provisioned,
    ProvisionError,
    provision,
    translate,
)
from infra.template import load_template, ttl_attribute
from moto import mock_aws

from flowless.localcloud.provision import APPLIED_RESOURCE_TYPES, _for_moto
from tests.aws import REGION


@pytest.fixture
def session() -> Iterator[Any]:
    with mock_aws():
        yield boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def _check_stack(session: Any, provisioned: Provisioned) -> None:
    props = load_template()["Resources"]["StateTable"]["Properties"]
    dynamodb = session.client("dynamodb")
    table = dynamodb.describe_table(TableName=provisioned.table_name)["Table"]
    assert _keys(table["KeySchema"]) == _keys(props["KeySchema"])
    assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
    assert {g["IndexName"]: _keys(g["KeySchema"]) for g in table["GlobalSecondaryIndexes"]} == {
        g["IndexName"]: _keys(g["KeySchema"]) for g in props["GlobalSecondaryIndexes"]
    }
    assert {g["IndexName"]: g["Projection"] for g in table["GlobalSecondaryIndexes"]} == {
        "gsi1": {"ProjectionType": "ALL"}
    }
    ttl = dynamodb.describe_time_to_live(TableName=provisioned.table_name)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": ttl_attribute(),
    }
    assert ttl_attribute() == "expires_at"
    backups = dynamodb.describe_continuous_backups(TableName=provisioned.table_name)
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"

    s3 = session.client("s3")
    s3.head_bucket(Bucket=provisioned.bucket_name)
    block = s3.get_public_access_block(Bucket=provisioned.bucket_name)
    assert all(block["PublicAccessBlockConfiguration"].values())
    encryption = s3.get_bucket_encryption(Bucket=provisioned.bucket_name)
    [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    # The signing key: created before the stack (moto's CloudFormation has no secrets),
    # with the value GenerateSecretString asks for.
    secret = session.client("secretsmanager").get_secret_value(SecretId=provisioned.signing_secret)
    assert len(secret["SecretString"]) == 64 and secret["SecretString"].isalnum()


def test_provision_creates_the_templates_table_and_bucket(session: Any) -> None:
    provisioned = provision(session, "flowless-a")
    _check_stack(session, provisioned)
    cloudformation = session.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName="flowless-a")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {
        "StateTableName": provisioned.table_name,
        "ResultsBucketName": provisioned.bucket_name,
        "FlowRunFunctionName": "flowless-a-flow-run",
        "TaskRunFunctionName": "flowless-a-task-run",
        "SigningKeySecretArn": provisioned.signing_secret,
    }
    assert provisioned.flow_function_name == "flowless-a-flow-run"
    assert provisioned.task_function_name == "flowless-a-task-run"
    assert provisioned.stack_name == "flowless-a"
    assert provisioned.region == REGION


def test_the_table_serves_the_access_patterns(session: Any) -> None:
    provisioned = provision(session)
    dynamodb = session.client("dynamodb")
    for n in range(3):
        dynamodb.put_item(
            TableName=provisioned.table_name,
            Item={
                "pk": {"S": f"FLOWRUN#{n}"},
                "sk": {"S": "FLOWRUN"},
                "gsi1pk": {"S": "FLOWRUNS"},
                "gsi1sk": {"S": f"{n:020d}#{n}"},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    listed = dynamodb.query(
        TableName=provisioned.table_name,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "FLOWRUNS"}},
        ScanIndexForward=False,
    )
    assert [item["pk"]["S"] for item in listed["Items"]] == [f"FLOWRUN#{n}" for n in (2, 1, 0)]


def test_two_stacks_do_not_clash(session: Any) -> None:
    first = provision(session, "flowless-one")
    second = provision(session, "flowless-two")
    names = ("table_name", "bucket_name", "flow_function_name", "task_function_name")
    for attribute in (*names, "signing_secret"):
        assert getattr(first, attribute) != getattr(second, attribute), attribute
    _check_stack(session, first)
    _check_stack(session, second)


def test_the_same_stack_twice_is_a_clear_error(session: Any) -> None:
    provision(session, "flowless-once")
    with pytest.raises(ProvisionError, match=r"Cannot create stack 'flowless-once'.*exists"):
        provision(session, "flowless-once")


def test_functions_are_resolved_from_the_template(session: Any) -> None:
    provisioned = provision(session, "flowless-f", parameters={"TaskRunTimeout": "60"})
    functions = provisioned.functions
    assert set(functions) == {"FlowRunFunction", "TaskRunFunction"}
    flow, task = functions["FlowRunFunction"], functions["TaskRunFunction"]
    assert (flow.name, flow.handler, flow.timeout, flow.memory_size) == (
        "flowless-f-flow-run",
        "flow_run.handler",
        900,
        512,
    )
    assert (task.name, task.handler, task.timeout) == (
        "flowless-f-task-run",
        "task_run.handler",
        60,
    )
    expected = {
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_TABLE": provisioned.table_name,
        "FLOWLESS_BUCKET": provisioned.bucket_name,
        "FLOWLESS_TASK_FUNCTION": "flowless-f-task-run",
        "FLOWLESS_FLOW_FUNCTION": "flowless-f-flow-run",
        "FLOWLESS_SIGNING_SECRET": provisioned.signing_secret,
        "POWERTOOLS_SERVICE_NAME": "flowless",
        "POWERTOOLS_METRICS_NAMESPACE": "flowless",
    }
    assert dict(flow.environment) == expected
    assert dict(task.environment) == {**expected, "FLOWLESS_INVOKER": "local"}


def test_only_lambda_resources_are_left_out_of_the_moto_stack() -> None:
    translated = translate(load_template(), REGION)
    body, dropped = _for_moto(translated)
    kinds = {k: v["Type"] for k, v in translated["Resources"].items()}
    # Lambda's are dropped; what moto's CloudFormation cannot create (the bucket policy)
    # is applied through its API after the stack exists.
    applied = {k for k, kind in kinds.items() if kind in APPLIED_RESOURCE_TYPES}
    assert applied == {"ResultsBucketPolicy"}
    assert {kinds[k] for k in dropped - applied} <= DROPPED_RESOURCE_TYPES
    assert {k for k, kind in kinds.items() if kind in DROPPED_RESOURCE_TYPES} == dropped - applied
    assert set(body["Resources"]) == set(kinds) - dropped
    assert {"StateTable", "ResultsBucket"} <= set(body["Resources"])
    # the table and bucket are the template's, untouched
    for name in ("StateTable", "ResultsBucket"):
        assert body["Resources"][name] == translated["Resources"][name]
    # references to a function become its fixed name
    outputs = body["Outputs"]
    assert outputs["TaskRunFunctionName"]["Value"] == {"Fn::Sub": "${AWS::StackName}-task-run"}


def test_a_secret_made_before_the_stack_is_left_out_and_referred_to_by_arn() -> None:
    """moto's CloudFormation has no AWS::SecretsManager::Secret: provisioning creates the
    signing key first and every Ref to it becomes its ARN (roles, environment, outputs)."""
    translated = translate(load_template(), REGION)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKey-abc-XyZ123"
    body, _ = _for_moto(translated, {"SigningKey": arn})
    assert "SigningKey" not in body["Resources"]
    assert '{"Ref": "SigningKey"}' not in json.dumps(body)  # no reference left behind
    for role in ("FlowRunRole", "TaskRunRole"):
        statements = body["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        [key] = [s for s in statements["Statement"] if s["Sid"] == "SigningKey"]
        assert key["Resource"] == arn
    assert body["Outputs"]["SigningKeySecretArn"]["Value"] == arn


def test_a_reference_to_a_dropped_function_arn_becomes_its_arn() -> None:
    translated = translate(load_template(), REGION)
    translated = copy.deepcopy(translated)
    translated["Outputs"]["TaskArn"] = {"Value": {"Fn::GetAtt": ["TaskRunFunction", "Arn"]}}
    translated["Outputs"]["LayerArn"] = {
        "Value": {"Ref": next(k for k in translated["Resources"] if k.startswith("FlowlessLayer"))}
    }
    body, _ = _for_moto(translated)
    assert body["Outputs"]["TaskArn"]["Value"] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        "${AWS::StackName}-task-run"
    }
    assert "LayerArn" not in body["Outputs"]  # a layer has no stand-in: dropped with it


def test_translation_names_managed_policies_without_iam() -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": ".",
                    "Handler": "a.handler",
                    "Runtime": "python3.11",
                    "Policies": ["AWSXRayDaemonWriteAccess"],
                },
            }
        },
    }
    translated = translate(template, "eu-west-1")
    role = translated["Resources"]["FnRole"]["Properties"]
    assert "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess" in role["ManagedPolicyArns"]
    assert LocalManagedPolicyLoader("aws-cn").load()["AWSLambdaBasicExecutionRole"] == (
        "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )


def test_an_invalid_template_is_a_provision_error() -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {}}},
    }
    with pytest.raises(ProvisionError, match="samtranslator rejected the template"):
        translate(template, REGION)


@pytest.mark.slow
def test_provision_through_the_local_clouds_moto_server() -> None:
    """The local cloud's way: its moto server on 127.0.0.1, reached through endpoint_url."""
    from flowless.localcloud.moto_server import MotoServer

    server = MotoServer().start()
    try:
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        provisioned = provision(session, "flowless-server", endpoint_url=server.url)
        dynamodb = session.client("dynamodb", endpoint_url=server.url)
        ttl = dynamodb.describe_time_to_live(TableName=provisioned.table_name)
        assert ttl["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED",
            "AttributeName": "expires_at",
        }
        s3 = session.client("s3", endpoint_url=server.url)
        s3.head_bucket(Bucket=provisioned.bucket_name)
        assert server.requests.get("cloudformation", 0) >= 1
    finally:
        server.stop()


def test_the_bucket_policy_is_applied_without_its_tls_statement(session: Any) -> None:
    """moto's CloudFormation skips AWS::S3::BucketPolicy, and the local cloud is plain HTTP
    (moto would deny everything under the TLS-only statement): provisioning applies the
    policy less that statement, and leaves the bucket usable."""
    from flowless.localcloud._stack_apply import _without_tls_only

    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyWithoutTLS",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "Other",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteBucket",
                "Resource": "*",
            },
        ],
    }
    assert [s["Sid"] for s in _without_tls_only(document)["Statement"]] == ["Other"]
    provisioned = provision(session, "tls-policy")
    s3 = session.client("s3")
    s3.put_object(Bucket=provisioned.bucket_name, Key="k", Body=b"v")
    assert s3.get_object(Bucket=provisioned.bucket_name, Key="k")["Body"].read() == b"v"
