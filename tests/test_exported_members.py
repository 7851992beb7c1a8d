"""The public surface: what `import flowless...` offers, as Prefect code expects it."""

from __future__ import annotations

import importlib

import pytest

import flowless

PUBLIC_MODULES = {
    "flowless": [
        "Flow",
        "FlowRunContext",
        "PrefectFuture",
        "State",
        "Task",
        "TaskRunContext",
        "__version__",
        "allow_failure",
        "flow",
        "get_run_context",
        "get_run_logger",
        "quote",
        "tags",
        "task",
        "unmapped",
    ],
    "flowless.artifacts": [
        "acreate_image_artifact",
        "acreate_link_artifact",
        "acreate_markdown_artifact",
        "acreate_progress_artifact",
        "acreate_table_artifact",
        "aupdate_progress_artifact",
        "create_image_artifact",
        "create_link_artifact",
        "create_markdown_artifact",
        "create_progress_artifact",
        "create_table_artifact",
        "update_progress_artifact",
    ],
    "flowless.tasks": ["Task", "exponential_backoff", "task", "task_input_hash"],
    "flowless.flows": ["Flow", "flow"],
    "flowless.cache_policies": [
        "DEFAULT",
        "FLOW_PARAMETERS",
        "INPUTS",
        "NONE",
        "NO_CACHE",
        "RUN_ID",
        "TASK_SOURCE",
        "CacheKeyFnPolicy",
        "CachePolicy",
        "CompoundCachePolicy",
        "FlowParameters",
        "Inputs",
        "RunId",
        "TaskSource",
    ],
    "flowless.futures": [
        "DoneAndNotDoneFutures",
        "PrefectFuture",
        "PrefectFutureList",
        "RunQueue",
        "SubmittedRun",
        "as_completed",
        "resolve_futures_to_results",
        "resolve_futures_to_states",
        "visit_futures",
        "wait",
    ],
    "flowless.concurrency.sync": ["concurrency", "rate_limit"],
    "flowless.concurrency.asyncio": [
        "AcquireConcurrencySlotTimeoutError",
        "ConcurrencySlotAcquisitionError",
        "concurrency",
        "rate_limit",
    ],
    "flowless.concurrency": [
        "AcquireConcurrencySlotTimeoutError",
        "ConcurrencySlotAcquisitionError",
        "GlobalConcurrencyLimit",
        "create_limit",
        "delete_limit",
        "list_limits",
        "read_limit",
        "update_limit",
    ],
    "flowless.task_runners": [
        "ConcurrentTaskRunner",
        "ThreadPoolTaskRunner",
        "is_worker_thread",
        "mark_worker_thread",
    ],
    "flowless.logging": ["LogEavesdropper", "disable_run_logger", "get_logger", "get_run_logger"],
    "flowless.logging.loggers": [
        "LogEavesdropper",
        "PrefectLogAdapter",
        "disable_logger",
        "disable_run_logger",
        "flow_run_logger",
        "get_logger",
        "get_run_logger",
        "patch_print",
        "print_as_log",
        "task_run_logger",
    ],
    "flowless.context": [
        "FlowRunContext",
        "RunContext",
        "TagsContext",
        "TaskRunContext",
        "current_tags",
        "get_run_context",
        "tags",
    ],
    "flowless.client.schemas": ["FlowRun", "State", "StateDetails", "StateType", "TaskRun"],
    "flowless.client.schemas.objects": ["FlowRun", "State", "StateDetails", "StateType", "TaskRun"],
    "flowless.runtime": ["deployment", "flow_run", "task_run"],
    "flowless.runtime.deployment": ["flow_run_id", "id", "name", "parameters", "version"],
    "flowless.runtime.flow_run": [
        "api_url",
        "flow_name",
        "flow_version",
        "id",
        "job_variables",
        "name",
        "parameters",
        "parent_deployment_id",
        "parent_flow_run_id",
        "root_flow_run_id",
        "run_count",
        "scheduled_start_time",
        "tags",
        "ui_url",
    ],
    "flowless.runtime.task_run": [
        "api_url",
        "id",
        "name",
        "parameters",
        "run_count",
        "tags",
        "task_name",
        "ui_url",
    ],
    "flowless.testing.utilities": ["flowless_test_harness", "prefect_test_harness"],
    # The run UI (the `ui` extra): the pages, their server, the one-file report.
    "flowless.ui": ["Pages", "make_server", "report_html"],
    "flowless.store": [
        "AmbiguousFlowRunError",
        "ArtifactRecord",
        "CacheEntry",
        "DynamoDBLimits",
        "DynamoDBStore",
        "CorruptRecord",
        "DeploymentStateStore",
        "FlowRunRecord",
        "Lease",
        "LimitRecord",
        "LimitStore",
        "LogLine",
        "Payload",
        "SQLiteLimits",
        "SQLiteStore",
        "Store",
        "TaskRunRecord",
        "find_flow_run",
    ],
    "flowless.invoke": [
        "NOT_RETURNED",
        "Invoker",
        "LambdaInvoker",
        "LocalInvoker",
        "TaskCall",
        "TaskRunFunction",
        "TaskSourceMismatchError",
        "WireError",
        "error_to_wire",
        "payload_to_wire",
        "read_task_event",
        "state_to_wire",
    ],
    "flowless.results": [
        "JSON",
        "PICKLE",
        "BlobStorage",
        "LocalFileStorage",
        "Results",
        "S3BlobStorage",
        "Signer",
        "deserialize",
        "local_signer",
        "secret_signer",
        "serialize",
    ],
    "flowless.engine": [
        "Runtime",
        "TaskRunExecutor",
        "call_flow",
        "call_task",
        "current_runtime",
        "map_task",
        "resume_flow_run",
        "run_flow",
        "run_flow_async",
        "start_flow_run_by_id",
        "submit_task",
    ],
    "flowless.deployments": [
        "DeploymentDefinition",
        "DeploymentError",
        "DeploymentParameterError",
        "FlowRun",
        "IdempotencyKeyReusedError",
        "UnknownDeploymentError",
        "run_deployment",
    ],
    "flowless.schedules": [
        "Cron",
        "Interval",
        "Schedule",
        "ScheduleError",
        "fire_times",
        "next_fire_times",
        "slot_key",
        "slug_of",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_MODULES))
def test_public_surface(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC_MODULES[module_name])
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is declared but missing"


def test_states_module_has_prefect_constructors() -> None:
    from flowless import states

    for name in [
        "Pending",
        "Running",
        "Completed",
        "Failed",
        "Cached",
        "AwaitingRetry",
        "Retrying",
        "TimedOut",
        "Crashed",
        "Cancelled",
        "State",
        "StateType",
    ]:
        assert name in states.__all__


def test_exceptions_have_prefect_names() -> None:
    from flowless import exceptions

    for name in [
        "ParameterTypeError",
        "ParameterBindError",
        "MissingContextError",
        "UnfinishedRun",
        "FailedRun",
        "CrashedRun",
        "UpstreamTaskError",
        "PrefectException",
        "MappingLengthMismatch",
        "MappingMissingIterable",
    ]:
        assert name in exceptions.__all__


def test_version() -> None:
    assert flowless.__version__ == "0.1.0"
