"""What a well-formed task-run event must also be before the function writes anything.

``invoke._wire`` checks an event's shape; it cannot know whether what the event names is
real here. Two things are checked against this stack, before the first write:

- the task run's flow run is in the table and Running (one consistent read). An unknown
  id would otherwise leave an orphan task run in a partition of no flow run; a finished
  flow run would gain task runs after its end, which Prefect's server refuses too
  (``PreventRunningTasksFromStoppedFlows``). A task run outside any flow names no flow
  run, and is not read for.
- a payload sent by location is inside the results store this function writes to (the
  configured bucket and prefix, or result folder). Anything else would be read from a
  place this stack does not own (and unpickled), or fail with an error that blames the
  configured bucket for another's absence.

Both raise ``TaskRunEventRejectedError``, whose message names what is wrong and what was
expected. Strict on purpose: the flow side writes locations with ``Results.dump``, so a
legitimate event never has a key with dot segments or another bucket's name.
"""

from __future__ import annotations

from pathlib import Path

from flowless.exceptions import CorruptRecordError, RecordNotFoundError
from flowless.results import BlobStorage, LocalFileStorage
from flowless.results._s3 import S3BlobStorage
from flowless.states import StateType
from flowless.store import Payload, Store, TaskRunRecord

__all__ = ["TaskRunEventRejectedError", "check_flow_run", "check_payload_location"]

_NOT_RUN = "so this one was neither run nor recorded"


class TaskRunEventRejectedError(ValueError):
    """A well-formed task-run event that names what this stack does not have, or must
    not touch: an unknown or finished flow run, a payload outside the results store."""


def _label(run: TaskRunRecord) -> str:
    return f"Task run {run.name!r} ({run.id})"


def check_flow_run(store: Store, run: TaskRunRecord) -> None:
    """The run's flow run exists and is Running. A store that cannot be read raises its
    own ``StoreError``: that is the store failing, not the event being wrong."""
    if run.flow_run_id is None:
        return
    try:
        flow_run = store.read_flow_run(run.flow_run_id)
    except RecordNotFoundError:
        raise TaskRunEventRejectedError(
            f"{_label(run)} belongs to flow run {run.flow_run_id!r}, which is not in "
            f"{store.location}: task runs are recorded in their flow run, {_NOT_RUN}. Is the "
            "caller's FLOWLESS_TABLE the deployed stack's?"
        ) from None
    except CorruptRecordError as exc:
        raise TaskRunEventRejectedError(
            f"{_label(run)} belongs to a flow run that cannot be read ({exc}), {_NOT_RUN}."
        ) from None
    if flow_run.state_type is StateType.RUNNING:
        return
    kind = flow_run.state_type.value.title()
    shown = (
        flow_run.state_name if flow_run.state_name == kind else f"{flow_run.state_name} ({kind})"
    )
    raise TaskRunEventRejectedError(
        f"{_label(run)} belongs to flow run {flow_run.name!r} ({flow_run.id}), which is "
        f"{shown}: a flow run's tasks run only while it is Running, {_NOT_RUN}."
    )


def _inside_s3(location: str, blobs: S3BlobStorage) -> bool:
    root = f"s3://{blobs.bucket}/{blobs.prefix}"
    if not location.startswith(root):
        return False
    # S3 keys are literal, but an HTTP stack may resolve "a/../b" before S3 sees it.
    name = location.removeprefix(root)
    return bool(name) and all(part not in ("", ".", "..") for part in name.split("/"))


def _inside_folder(location: str, root: Path) -> bool:
    """Symlinks resolved: a link in the folder to a file elsewhere is elsewhere."""
    path, folder = Path(location).resolve(), root.resolve()
    return path != folder and path.is_relative_to(folder)


def _store(blobs: BlobStorage) -> tuple[str, str]:
    """Where this function reads payloads, and the setting that says so."""
    if isinstance(blobs, S3BlobStorage):
        where = (
            f"'s3://{blobs.bucket}/{blobs.prefix}' (bucket {blobs.bucket!r} from "
            f"FLOWLESS_BUCKET, prefix {blobs.prefix!r})"
        )
        return where, "FLOWLESS_BUCKET"
    if isinstance(blobs, LocalFileStorage):
        return f"the folder {str(blobs.root)!r}", "FLOWLESS_HOME"
    name = type(blobs).__name__
    return f"no location (a {name} cannot say which are its own)", "result storage"


def check_payload_location(
    payload: Payload, blobs: BlobStorage, run: TaskRunRecord, what: str = "parameters"
) -> None:
    """A payload that carries a location points inside ``blobs``, where this stack's
    results are. Checked on the text alone: nothing is read from a location refused."""
    location = payload.location
    if location is None:
        return
    if isinstance(blobs, S3BlobStorage):
        inside = _inside_s3(location, blobs)
    elif isinstance(blobs, LocalFileStorage):
        inside = _inside_folder(location, blobs.root)
    else:  # a storage that cannot tell: read nothing it was not shown to own
        inside = False
    if inside:
        return
    where, setting = _store(blobs)
    raise TaskRunEventRejectedError(
        f"{_label(run)} was sent its {what} at {location!r}, outside this stack's results "
        f"store: the function reads payloads only under {where}, {_NOT_RUN}. Is the "
        f"caller's {setting} the deployed stack's?"
    )
