"""What keeps a deployed project running unattended, and what says when it did not.

Scheduler's group and one schedule per ``ScheduleModel`` (with the retries a delivery
gets), the dead-letter queue for flow runs that could not start, and the two alarms
(a flow run failed; something reached the queue). Apart from ``_template`` because
these are the resources an operator tunes, not the ones a flow runs on.
"""

from __future__ import annotations

from typing import Any

from flowless.deploy._models import ScheduleModel
from flowless.deploy._template_refs import (
    DEAD_LETTER_QUEUE,
    FLOW_RUN_FUNCTION,
    METRICS_NAMESPACE,
    SCHEDULE_GROUP,
    SCHEDULER_ROLE,
    arn,
    ref,
    sub,
)

__all__ = [
    "DEAD_LETTER_RETENTION",
    "FAILED_FLOW_RUNS_METRIC",
    "SCHEDULE_MAX_EVENT_AGE",
    "SCHEDULE_RETRY_ATTEMPTS",
    "alarms",
    "dead_letter_queue",
    "schedule_group",
    "schedule_resource",
]

FAILED_FLOW_RUNS_METRIC = "FlowRunFailures"

#: Scheduler's retries of a failed delivery (limits: 0-185 attempts, 60-86400 seconds).
#: The flow-run function turns a delivery into at most one flow run (keyed on the
#: nominal time), so a retry after an error can never start a second run.
SCHEDULE_RETRY_ATTEMPTS = 10
SCHEDULE_MAX_EVENT_AGE = 3600
#: SQS's longest retention.
DEAD_LETTER_RETENTION = 14 * 24 * 3600


def dead_letter_queue() -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::Queue",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "SqsManagedSseEnabled": True,
            "MessageRetentionPeriod": DEAD_LETTER_RETENTION,
        },
    }


def schedule_group() -> dict[str, Any]:
    return {
        "Type": "AWS::Scheduler::ScheduleGroup",
        "Properties": {"Name": ref("AWS::StackName")},
    }


def schedule_resource(schedule: ScheduleModel) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Name": schedule.name,
        "GroupName": ref(SCHEDULE_GROUP),
        "Description": schedule.description,
        "ScheduleExpression": schedule.expression,
        "ScheduleExpressionTimezone": schedule.timezone,
    }
    if schedule.start_date_text is not None:
        properties["StartDate"] = schedule.start_date_text
    properties.update(
        {
            "State": schedule.state,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": arn(FLOW_RUN_FUNCTION),
                "RoleArn": arn(SCHEDULER_ROLE),
                "Input": schedule.input,
                "RetryPolicy": {
                    "MaximumRetryAttempts": SCHEDULE_RETRY_ATTEMPTS,
                    "MaximumEventAgeInSeconds": SCHEDULE_MAX_EVENT_AGE,
                },
                "DeadLetterConfig": {"Arn": arn(DEAD_LETTER_QUEUE)},
            },
        }
    )
    return {"Type": "AWS::Scheduler::Schedule", "Properties": properties}


def alarms() -> dict[str, Any]:
    common = {
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    return {
        "FlowRunFailuresAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": sub("${AWS::StackName}: a flow run failed."),
                "Namespace": METRICS_NAMESPACE,
                "MetricName": FAILED_FLOW_RUNS_METRIC,
                "Dimensions": [{"Name": "service", "Value": ref("AWS::StackName")}],
                "Statistic": "Sum",
                **common,
            },
        },
        "DeadLetterAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": sub(
                    "${AWS::StackName}: a flow run could not start (an invocation or a "
                    "schedule delivery failed); read the dead-letter queue."
                ),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {
                        "Name": "QueueName",
                        "Value": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]},
                    }
                ],
                "Statistic": "Maximum",
                **common,
            },
        },
    }
