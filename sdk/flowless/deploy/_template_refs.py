"""How one resource of the generated template names another: logical ids and intrinsics.

Every part of the template (``_template``, ``_template_iam``, ``_template_ops``) refers
to the same resources; their logical ids and the long-form intrinsics that point at
them live here, so the parts agree and the template stays plain data
(``yaml.safe_dump`` writes it, ``yaml.safe_load`` reads it back).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEAD_LETTER_QUEUE",
    "FLOW_RUN_FUNCTION",
    "METRICS_NAMESPACE",
    "SCHEDULER_ROLE",
    "SCHEDULE_GROUP",
    "SIGNING_KEY",
    "TASK_RUN_FUNCTION",
    "arn",
    "function_arn",
    "function_name",
    "ref",
    "sub",
]

FLOW_RUN_FUNCTION = "FlowRunFunction"
TASK_RUN_FUNCTION = "TaskRunFunction"
DEAD_LETTER_QUEUE = "DeadLetterQueue"
SCHEDULER_ROLE = "SchedulerRole"
SCHEDULE_GROUP = "ScheduleGroup"
SIGNING_KEY = "SigningKey"
METRICS_NAMESPACE = "flowless"


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def function_name(suffix: str) -> dict[str, Any]:
    return sub(f"${{AWS::StackName}}-{suffix}")


def function_arn(suffix: str) -> dict[str, Any]:
    return sub(
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        f"${{AWS::StackName}}-{suffix}"
    )
