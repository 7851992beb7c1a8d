"""The mapping between the SQLite store's rows and the records (its tables and
statements: ``_sqlite_schema``).

Rows are checked column by column on the way in: a row that is not what the schema says
(edited by hand, written by a bug) raises ``ValueError``/``TypeError`` naming the column,
which the store turns into a ``CorruptRecord`` or ``CorruptRecordError``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any

from flowless.states import StateType
from flowless.store._records import (
    CorruptRecord,
    FlowRunRecord,
    Payload,
    TaskRunRecord,
)

__all__ = [
    "write_chunk",
    "flow_run_from_row",
    "flow_run_params",
    "flow_runs_from_rows",
    "inputs",
    "inputs_text",
    "number",
    "to_payload",
    "payload_columns",
    "state_type",
    "tags",
    "tags_text",
    "storable_text",
    "task_run_from_row",
    "task_run_write",
    "text",
]


def payload_columns(payload: Payload | None) -> tuple[str | None, bytes | None, str | None]:
    if payload is None:
        return None, None, None
    return payload.serializer, payload.data, payload.location


def to_payload(serializer: Any, data: Any, location: Any) -> Payload | None:
    if serializer is None:
        return None
    if not isinstance(serializer, str):
        raise ValueError(f"serializer is {serializer!r}")
    if data is not None and not isinstance(data, bytes):
        raise ValueError(f"payload is {type(data).__name__}, not bytes")
    if location is not None and not isinstance(location, str):
        raise ValueError(f"payload location is {location!r}")
    return Payload(serializer, data, location)


def text(value: Any, column: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{column} is {value!r}, not text")
    return value


def number(value: Any, column: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{column} is {value!r}, not a number")
    return value


def tags(value: Any) -> list[str]:
    tags = json.loads(value)
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"tags is {value!r}")
    return tags


def tags_text(tags: list[str]) -> str:
    return json.dumps(tags) if tags else "[]"


def inputs(value: Any) -> dict[str, str] | None:
    """A task run's ``inputs`` column (JSON text, or NULL: a row written before it)."""
    if value is None:
        return None
    try:
        inputs = json.loads(text(value, "inputs"))
    except json.JSONDecodeError:
        raise ValueError(f"inputs is {value!r}, not JSON") from None
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise ValueError(f"inputs is {value!r}, not an object of strings")
    return inputs


#: The last ``inputs`` encoded, and its text: a run's end row reuses its start row's.
_last_inputs: tuple[dict[str, str] | None, str | None] = (None, None)


def inputs_text(inputs: dict[str, str] | None) -> str | None:
    """The JSON text of ``inputs``, ASCII (a lone surrogate is escaped). Made for every
    row of a task run (a start and an end), so built by hand, and the last one is reused
    for the same dict (a record's ``inputs`` is replaced, never changed in place)."""
    global _last_inputs
    if inputs is None:
        return None
    last = _last_inputs
    if last[0] is inputs:
        return last[1]
    if len(inputs) == 1:
        ((name, value),) = inputs.items()
        encoded = f"{{{_quoted(name)}:{_quoted(value)}}}"
    else:
        encoded = "{" + ",".join([f"{_quoted(k)}:{_quoted(v)}" for k, v in inputs.items()]) + "}"
    _last_inputs = (inputs, encoded)
    return encoded


def state_type(value: Any) -> StateType:
    try:
        return StateType(value)
    except ValueError:
        raise ValueError(f"state_type is {value!r}, not a state type") from None


def flow_run_from_row(row: tuple[Any, ...]) -> FlowRunRecord:
    return FlowRunRecord(
        id=text(row[0], "id"),
        name=text(row[1], "name"),
        flow_name=text(row[2], "flow_name"),
        state_type=state_type(row[3]),
        state_name=text(row[4], "state_name"),
        state_message=text(row[5], "state_message", optional=True),
        parameters=to_payload(row[6], row[7], row[8]),
        parent_flow_run_id=text(row[9], "parent_flow_run_id", optional=True),
        parent_task_run_id=text(row[10], "parent_task_run_id", optional=True),
        deployment_id=text(row[11], "deployment_id", optional=True),
        created=number(row[12], "created"),
        start_time=number(row[13], "start_time", optional=True),
        end_time=number(row[14], "end_time", optional=True),
        run_count=number(row[15], "run_count"),
        result=to_payload(row[16], row[17], row[18]),
        tags=tags(row[19]),
        deployment_name=text(row[20], "deployment_name", optional=True),
        schedule_slug=text(row[21], "schedule_slug", optional=True),
        scheduled_start_time=number(row[22], "scheduled_start_time", optional=True),
        idempotency_key=text(row[23], "idempotency_key", optional=True),
        code_hash=text(row[24], "code_hash", optional=True),
        flow_identity=text(row[25], "flow_identity", optional=True),
        owner=text(row[26], "owner", optional=True),
        version=number(row[27], "version"),
    )


def flow_runs_from_rows(rows: list[Any]) -> list[FlowRunRecord | CorruptRecord]:
    """Each row decoded, or reported as corrupt (one bad row never hides the others)."""
    out: list[FlowRunRecord | CorruptRecord] = []
    for row in rows:
        try:
            out.append(flow_run_from_row(row))
        except (ValueError, TypeError) as exc:
            out.append(CorruptRecord("flow run", str(row[0]), str(exc)))
    return out


def task_run_from_row(row: tuple[Any, ...]) -> TaskRunRecord:
    return TaskRunRecord(
        id=text(row[0], "id"),
        flow_run_id=text(row[1], "flow_run_id", optional=True),
        task_key=text(row[2], "task_key"),
        dynamic_key=number(row[3], "dynamic_key"),
        name=text(row[4], "name"),
        task_name=text(row[5], "task_name"),
        state_type=state_type(row[6]),
        state_name=text(row[7], "state_name"),
        state_message=text(row[8], "state_message", optional=True),
        run_count=number(row[9], "run_count"),
        start_time=number(row[10], "start_time", optional=True),
        end_time=number(row[11], "end_time", optional=True),
        cache_key=text(row[12], "cache_key", optional=True),
        result=to_payload(row[13], row[14], row[15]),
        child_flow_run_id=text(row[16], "child_flow_run_id", optional=True),
        tags=tags(row[17]),
        inputs=inputs(row[18]),
    )


_last_seq = 0


def task_run_write(run: TaskRunRecord) -> tuple[Any, ...]:
    """A task run's row (``TASK_COLUMNS``) and when it was made (``write_seq``, ns):
    strictly increasing in this process even if the clock steps back (a resume in
    another process after a clock step back is the case this cannot order:
    docs/embedded-store.md). Made twice per task run (its start and its end), so in
    one expression: ``_value_`` is the member's own attribute (``.value`` is a Python
    descriptor call, ~0.4 us)."""
    global _last_seq
    seq = time.time_ns()
    if seq <= _last_seq:
        seq = _last_seq + 1
    _last_seq = seq
    result = run.result
    return (
        run.id,
        run.flow_run_id,
        run.task_key,
        run.dynamic_key,
        run.name,
        run.task_name,
        run.state_type._value_,
        run.state_name,
        run.state_message,
        run.run_count,
        run.start_time,
        run.end_time,
        run.cache_key,
        None if result is None else result.serializer,
        None if result is None else result.data,
        None if result is None else result.location,
        run.child_flow_run_id,
        tags_text(run.tags),
        inputs_text(run.inputs),
        seq,
    )


def storable_text(value: str | None) -> str | None:
    """Text SQLite can store: a lone surrogate (from ``os.fsdecode``, in an exception's
    message) becomes its escape instead of failing the write."""
    if value is None or value.isascii():
        return value
    return value.encode("utf-8", "backslashreplace").decode()


def flow_run_params(run: FlowRunRecord) -> tuple[Any, ...]:
    return (
        run.id,
        run.name,
        run.flow_name,
        run.state_type._value_,
        run.state_name,
        storable_text(run.state_message),
        *payload_columns(run.parameters),
        run.parent_flow_run_id,
        run.parent_task_run_id,
        run.deployment_id,
        run.created,
        run.start_time,
        run.end_time,
        run.run_count,
        *payload_columns(run.result),
        tags_text(run.tags),
        run.deployment_name,
        run.schedule_slug,
        run.scheduled_start_time,
        run.idempotency_key,
        run.code_hash,
        run.flow_identity,
        run.owner,
        run.version,
    )


def write_chunk(
    execute: Callable[[str, tuple[Any, ...]], Any],
    statement: Callable[[int], str],
    rows: list[tuple[Any, ...]],
    sizes: tuple[int, ...],
) -> None:
    """``rows`` (at most ``sizes[-1]``) in one statement of the next size up, the last row
    repeated to fill it (an upsert or ``INSERT OR IGNORE`` writes it once), so a few
    statements serve every batch; a lone surrogate (``os.fsdecode``) in some text is
    stored as its escape. Raises ``sqlite3.Error``."""
    size = next(n for n in sizes if n >= len(rows))
    values = tuple(itertools.chain.from_iterable(rows + [rows[-1]] * (size - len(rows))))
    try:
        execute(statement(size), values)
    except UnicodeEncodeError:
        execute(
            statement(size), tuple(storable_text(v) if isinstance(v, str) else v for v in values)
        )
