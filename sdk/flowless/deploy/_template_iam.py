"""The generated template's IAM roles: what each function, and Scheduler, may do.

Least privilege, statement by statement, so a review of what a deployed project can
touch reads one module: each function writes its own logs, uses the table and the
results, and reads the key that signs pickles; the flow-run function also invokes the
functions and writes dead letters;
Scheduler, for this account only, starts flow runs.
"""

from __future__ import annotations

from typing import Any

from flowless.deploy._template_refs import (
    DEAD_LETTER_QUEUE,
    FLOW_RUN_FUNCTION,
    SIGNING_KEY,
    arn,
    function_arn,
    ref,
    sub,
)

__all__ = ["flow_run_role", "scheduler_role", "task_run_role"]


def _statement(sid: str, actions: list[str], resource: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _policy_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _lambda_trust() -> dict[str, Any]:
    return _policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def _run_statements(log_group: str) -> list[dict[str, Any]]:
    """What both functions do: their own logs, the table, the results, the signing key."""
    return [
        _statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], arn(log_group)),
        _statement(
            "StateTable",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            arn("StateTable"),
        ),
        _statement(
            "ResultObjects", ["s3:GetObject", "s3:PutObject"], sub("${ResultsBucket.Arn}/*")
        ),
        # Without ListBucket, S3 answers AccessDenied for a missing object instead of
        # NoSuchKey, and a lost result would look like a permission error.
        _statement("ResultMissingIsNotFound", ["s3:ListBucket"], arn("ResultsBucket")),
        # Pickles are signed and checked with it (docs/security.md): read, never written.
        _statement("SigningKey", ["secretsmanager:GetSecretValue"], ref(SIGNING_KEY)),
    ]


def flow_run_role() -> dict[str, Any]:
    statements = [
        *_run_statements("FlowRunLogGroup"),
        _statement("InvokeTaskRuns", ["lambda:InvokeFunction"], [function_arn("task-run")]),
        # Ad hoc runs start with an asynchronous invoke of this function itself. Its name,
        # not a reference: a function's role cannot refer to the function (a cycle).
        _statement("StartFlowRuns", ["lambda:InvokeFunction"], [function_arn("flow-run")]),
        # The asynchronous invocation's on-failure destination.
        _statement("DeadLetters", ["sqs:SendMessage"], arn(DEAD_LETTER_QUEUE)),
    ]
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "flowless flow-run function.",
            "AssumeRolePolicyDocument": _lambda_trust(),
            "Policies": [
                {"PolicyName": "flowless-flow-run", "PolicyDocument": _policy_document(statements)}
            ],
        },
    }


def task_run_role() -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "flowless task-run function.",
            "AssumeRolePolicyDocument": _lambda_trust(),
            "Policies": [
                {
                    "PolicyName": "flowless-task-run",
                    "PolicyDocument": _policy_document(_run_statements("TaskRunLogGroup")),
                }
            ],
        },
    }


def scheduler_role() -> dict[str, Any]:
    trust = _policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                # Only schedules of this account may use the role (confused deputy).
                "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
            }
        ]
    )
    statements = [
        _statement("StartScheduledFlowRuns", ["lambda:InvokeFunction"], arn(FLOW_RUN_FUNCTION)),
        _statement("DeadLetters", ["sqs:SendMessage"], arn(DEAD_LETTER_QUEUE)),
    ]
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "flowless schedules: EventBridge Scheduler starts flow runs.",
            "AssumeRolePolicyDocument": trust,
            "Policies": [
                {"PolicyName": "flowless-scheduler", "PolicyDocument": _policy_document(statements)}
            ],
        },
    }
