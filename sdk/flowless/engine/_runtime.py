"""Wiring: the store, results, and invoker a run uses, chosen from the settings.

``local``: SQLite under ``FLOWLESS_HOME``, result files, task runs on this process's
threads. ``aws``: the DynamoDB table, the S3 bucket, one Lambda invocation per task run
(``docs/aws.md``). Built once per settings and reused, so opening the database or
creating AWS clients is paid once per process, not once per flow run.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowless.engine._task_run import TaskRunExecutor
from flowless.exceptions import ConfigurationError, StoreError
from flowless.invoke import Invoker, LocalInvoker
from flowless.logging._console import setup_console_logging
from flowless.results import LocalFileStorage, Results, local_signer, secret_signer
from flowless.settings import Settings, current_settings
from flowless.store import LimitStore, SQLiteLimits, SQLiteStore, Store

__all__ = ["Runtime", "aws_clients", "close_home", "current_runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    store: Store
    results: Results
    invoker: Invoker
    #: Concurrency limits: in the same SQLite file, or the same DynamoDB table.
    limits: LimitStore


_stores: dict[Path, Store] = {}  # SQLiteStore; typed as the protocol the engine uses
_limits: dict[Path, SQLiteLimits] = {}
_runtimes: dict[Settings, Runtime] = {}
_lock = threading.Lock()


def current_runtime() -> Runtime:
    settings = current_settings()
    setup_console_logging(settings.logging_level)
    runtime = _runtimes.get(settings)
    if runtime is not None:
        return runtime
    with _lock:
        runtime = _runtimes.get(settings)
        if runtime is None:
            runtime = _aws(settings) if settings.backend == "aws" else _local(settings)
            _runtimes[settings] = runtime
    return runtime


def _local(settings: Settings) -> Runtime:
    store = _stores.get(settings.home)
    if store is None:
        store = _stores[settings.home] = SQLiteStore(settings.home / "flowless.db")
    limits = _limits.get(settings.home)
    if limits is None:
        shared = store if isinstance(store, SQLiteStore) else None
        limits = _limits[settings.home] = SQLiteLimits(settings.home / "flowless.db", shared)
    results = Results(
        LocalFileStorage(settings.home / "results"),
        settings.results_inline_max_bytes,
        local_signer(settings.home),
    )
    invoker = LocalInvoker(TaskRunExecutor(store, results))
    return Runtime(settings, store, results, invoker, limits)


#: DynamoDB items must stay under 400 KB; larger results go to S3 whatever the setting.
AWS_INLINE_MAX_BYTES = 100 * 1024


def _aws(settings: Settings) -> Runtime:
    invokes = settings.invoker == "lambda"
    missing = [
        variable
        for variable, value in (
            ("FLOWLESS_TABLE", settings.table),
            ("FLOWLESS_BUCKET", settings.bucket),
            ("FLOWLESS_TASK_FUNCTION", settings.task_function if invokes else "-"),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            f"FLOWLESS_BACKEND=aws needs {', '.join(missing)}: the names of the table, bucket "
            "and task-run function deployed by template.yaml (see docs/aws.md)."
        )
    from botocore.config import Config

    from flowless.invoke import LambdaInvoker
    from flowless.results import S3BlobStorage
    from flowless.store import DynamoDBLimits, DynamoDBStore

    # An invocation is never retried by botocore (one attempt in total: ``max_attempts``
    # would count retries): if its response is lost it may have run. Throttles are
    # retried by the invoker itself, before anything ran.
    invoking = Config(read_timeout=905, connect_timeout=10, retries={"total_max_attempts": 1})
    clients = aws_clients("dynamodb", "s3", **({"lambda": invoking} if invokes else {}))
    dynamodb, s3, lambda_client = clients["dynamodb"], clients["s3"], clients.get("lambda")
    store = DynamoDBStore(settings.table, dynamodb)
    results = Results(
        S3BlobStorage(settings.bucket, s3),
        min(settings.results_inline_max_bytes, AWS_INLINE_MAX_BYTES),
        # The stack's secret, read when the first pickle is signed or checked.
        secret_signer(
            settings.signing_secret, lambda: aws_clients("secretsmanager")["secretsmanager"]
        ),
    )
    invoker: Invoker = (
        LambdaInvoker(settings.task_function, lambda_client, store, results)
        if invokes
        else LocalInvoker(TaskRunExecutor(store, results))
    )
    return Runtime(settings, store, results, invoker, DynamoDBLimits(settings.table, dynamodb))


def aws_clients(*services: str, **configured: Any) -> dict[str, Any]:
    """boto3 clients from one session: ``services`` retrying in botocore's standard mode,
    ``configured`` with the given ``Config``. A missing region is a ConfigurationError
    that says what to set (the SDK and the CLI share this)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    # botocore reads AWS_DEFAULT_REGION only; the AWS CLI and Lambda also set AWS_REGION.
    region = None if os.environ.get("AWS_DEFAULT_REGION") else os.environ.get("AWS_REGION")
    session: Any = boto3.session.Session(region_name=region or None)  # typed per service
    retrying = Config(retries={"mode": "standard", "max_attempts": 5})
    wanted = {**dict.fromkeys(services, retrying), **configured}
    try:
        clients = {name: session.client(name, config=config) for name, config in wanted.items()}
    except NoRegionError:
        raise ConfigurationError(
            "FLOWLESS_BACKEND=aws needs a region: set AWS_REGION (or AWS_DEFAULT_REGION)."
        ) from None
    return clients


def close_home(home: Path) -> None:
    """Close the store of one ``FLOWLESS_HOME`` and forget it (tests, harnesses)."""
    with _lock:
        store = _stores.pop(Path(home), None)
        limits = _limits.pop(Path(home), None)
        for settings in [s for s in _runtimes if s.home == Path(home)]:
            del _runtimes[settings]
    if store is not None:
        store.close()
    if limits is not None:
        limits.close()


#: Stores inherited by a forked child: kept referenced and never closed, because closing
#: a connection opened by the parent could disturb the parent's use of the database.
_inherited: list[Store] = []
_inherited_limits: list[SQLiteLimits] = []


def _forget_after_fork() -> None:
    """A forked child must not touch its parent's connection, lock, or committer thread
    (which does not exist in the child): it opens a store of its own on first use."""
    global _lock
    _inherited.extend(_stores.values())
    _inherited_limits.extend(_limits.values())
    _stores.clear()
    _limits.clear()
    _runtimes.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _close_stores() -> None:
    for store in _stores.values():
        try:
            store.close()
        except StoreError as exc:  # flush() raised it already, with what to do about it
            logging.getLogger("flowless.store").error("On exit: %s", exc)
    for limits in _limits.values():
        limits.close()
    _stores.clear()
    _limits.clear()
    _runtimes.clear()
