"""Prefect's ``prefect.artifacts``: what a run shows about itself, beyond its result.

Each call keeps a new artifact with the current flow run and task run, in the run's
store (the embedded store, or the DynamoDB table on AWS), where ``flowless artifact ls``
and ``inspect KEY`` find it. Artifacts with the same ``key`` are versions of one thing,
the newest being current. The formatting (a link as markdown, a table as JSON with NaN
as null, progress clamped to 0-100) is Prefect's, so the stored data is what Prefect's
UI would get.

As in Prefect, a call in an async flow or task (or with an event loop running, outside
any run) returns a coroutine to await; the ``acreate_*`` names always do.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
import uuid
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from flowless.logging.loggers import get_logger
from flowless.store import ArtifactRecord, Store

__all__ = [
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
]

P = ParamSpec("P")
R = TypeVar("R")

logger = get_logger("artifacts")

_KEY = re.compile(r"[a-z0-9-]*")


def _in_async_context() -> bool:
    """Prefect's rule (``is_in_async_context``): the innermost run is async, or, outside
    any run, an event loop is running in this thread."""
    import asyncio

    from flowless.context import TaskRunContext, current_flow_run

    task_ctx = TaskRunContext.get()
    if task_ctx is not None:
        return bool(getattr(task_ctx.task, "isasync", False))
    flow_ctx = current_flow_run()
    if flow_ctx is not None:
        return bool(getattr(flow_ctx.flow, "isasync", False))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _dispatch(
    async_impl: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[[Callable[P, R]], Callable[P, Any]]:
    """Prefect's ``async_dispatch``: code written for Prefect awaits these calls in async
    flows, and must get something to await."""

    def decorator(sync_fn: Callable[P, R]) -> Callable[P, Any]:
        @functools.wraps(sync_fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if _in_async_context():
                return async_impl(*args, **kwargs)
            return sync_fn(*args, **kwargs)

        wrapper.aio = async_impl  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _check_key(key: str | None) -> None:
    if key is not None and not _KEY.fullmatch(key):
        raise ValueError("Artifact key must only contain lowercase letters, numbers, and dashes.")


def _where() -> tuple[Store, str | None, str | None, bool]:
    """The store to write to, the flow run and task run ids, and whether in a run."""
    from flowless.context import TaskRunContext, current_flow_run

    flow_ctx = current_flow_run()
    task_ctx = TaskRunContext.get()
    flow_run_id = flow_ctx.flow_run.id if flow_ctx is not None else None
    task_run_id = None
    if task_ctx is not None:
        task_run_id = task_ctx.task_run.id
        flow_run_id = task_ctx.task_run.flow_run_id or flow_run_id
    if flow_ctx is not None:
        return flow_ctx.store, flow_run_id, task_run_id, True
    from flowless.engine import current_runtime

    return current_runtime().store, flow_run_id, task_run_id, task_ctx is not None


def _create(type_: str, key: str | None, description: str | None, data: Callable[[], Any]) -> UUID:
    _check_key(key)
    store, flow_run_id, task_run_id, in_run = _where()
    if not in_run:
        warnings.warn(
            "Artifact creation outside of a flow or task run is deprecated and will be "
            "removed in a later version.",
            FutureWarning,
            stacklevel=4,
        )
    artifact_id = uuid.uuid4()
    now = time.time()
    store.create_artifact(
        ArtifactRecord(
            id=str(artifact_id),
            key=key,
            type=type_,
            description=description,
            data=data(),
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            created=now,
            updated=now,
        )
    )
    return artifact_id


def _sanitize(item: Any) -> Any:
    """NaN becomes None (JSON null), as Prefect's ``TableArtifact._sanitize``."""
    if isinstance(item, list):
        return [_sanitize(sub) for sub in item]
    if isinstance(item, dict):
        return {k: _sanitize(v) for k, v in item.items()}
    if isinstance(item, float) and math.isnan(item):
        return None
    return item


def _progress(progress: float) -> float:
    """``progress`` in 0-100, with Prefect's two warnings when it was not."""
    if progress < 0.0 or progress > 100.0:
        logger.warning(f"ProgressArtifact received an invalid value, Progress: {progress}%")
        progress = max(0.0, min(progress, 100.0))
        logger.warning(f"Interpreting as {progress}% progress")
    return float(progress)


def _link(link: str, link_text: str | None) -> str:
    return f"[{link_text}]({link})" if link_text else f"[{link}]({link})"


# -- async variants (Prefect's ``acreate_*``) ------------------------------------------


async def acreate_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> UUID:
    return _create("markdown", key, description, lambda: markdown)


async def acreate_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
    client: Any = None,
) -> UUID:
    return _create("markdown", key, description, lambda: _link(link, link_text))


async def acreate_table_artifact(
    table: dict[str, list[Any]] | list[dict[str, Any]] | list[list[Any]],
    key: str | None = None,
    description: str | None = None,
) -> UUID:
    return _create("table", key, description, lambda: json.dumps(_sanitize(table)))


async def acreate_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> UUID:
    return _create("progress", key, description, lambda: _progress(progress))


async def acreate_image_artifact(
    image_url: str, key: str | None = None, description: str | None = None
) -> UUID:
    return _create("image", key, description, lambda: image_url)


async def aupdate_progress_artifact(
    artifact_id: UUID | str,
    progress: float,
    description: str | None = None,
    client: Any = None,
) -> UUID:
    return _update_progress(artifact_id, progress, description)


# -- the names Prefect code calls ------------------------------------------------------


@_dispatch(acreate_markdown_artifact)
def create_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> UUID:
    """An artifact of type ``markdown`` holding ``markdown``."""
    return _create("markdown", key, description, lambda: markdown)


@_dispatch(acreate_link_artifact)
def create_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
    client: Any = None,
) -> UUID:
    """A ``markdown`` artifact ``[link_text](link)``: Prefect stores links as markdown."""
    return _create("markdown", key, description, lambda: _link(link, link_text))


@_dispatch(acreate_table_artifact)
def create_table_artifact(
    table: dict[str, list[Any]] | list[dict[str, Any]] | list[list[Any]],
    key: str | None = None,
    description: str | None = None,
) -> UUID:
    """A ``table`` artifact: the table's JSON text, NaN as null (JSON has no NaN)."""
    return _create("table", key, description, lambda: json.dumps(_sanitize(table)))


@_dispatch(acreate_progress_artifact)
def create_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> UUID:
    """A ``progress`` artifact (0-100), to move with ``update_progress_artifact``."""
    return _create("progress", key, description, lambda: _progress(progress))


@_dispatch(acreate_image_artifact)
def create_image_artifact(
    image_url: str, key: str | None = None, description: str | None = None
) -> UUID:
    """An ``image`` artifact: the image's URL."""
    return _create("image", key, description, lambda: image_url)


@_dispatch(aupdate_progress_artifact)
def update_progress_artifact(
    artifact_id: UUID | str,
    progress: float,
    description: str | None = None,
    client: Any = None,
) -> UUID:
    """Move a progress artifact; its description changes only when one is given."""
    return _update_progress(artifact_id, progress, description)


def _update_progress(artifact_id: UUID | str, progress: float, description: str | None) -> UUID:
    store, _, _, _ = _where()
    value = _progress(progress)
    # Prefect sends the description only when it is truthy: "" leaves it as it was.
    store.update_artifact(str(artifact_id), value, description or None)
    return artifact_id if isinstance(artifact_id, UUID) else UUID(str(artifact_id))
