"""The SQLite store's schema: its tables, the columns added since the first release
(``_sqlite_open`` adds them to an older database), and the statements that write task
runs and cache entries many rows at a time.
"""

from __future__ import annotations

from flowless.states import StateType

__all__ = [
    "ADDED_FLOW_COLUMNS",
    "ADDED_TASK_COLUMNS",
    "COMPLETED",
    "FLOW_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TASK_COLUMNS",
    "TASK_PLACEHOLDERS",
    "TASK_UPDATES",
    "UPSERT_TASK_RUN",
    "replace_cache_entries",
    "task_columns",
    "upsert_task_runs",
]

SCHEMA_VERSION = 1


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flow_runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    flow_name TEXT NOT NULL,
    state_type TEXT NOT NULL,
    state_name TEXT NOT NULL,
    state_message TEXT,
    parameters_serializer TEXT,
    parameters BLOB,
    parameters_location TEXT,
    parent_flow_run_id TEXT,
    parent_task_run_id TEXT,
    deployment_id TEXT,
    created REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    run_count INTEGER NOT NULL,
    result_serializer TEXT,
    result BLOB,
    result_location TEXT,
    tags TEXT NOT NULL,
    owner TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    deployment_name TEXT,
    schedule_slug TEXT,
    scheduled_start_time REAL,
    idempotency_key TEXT,
    code_hash TEXT,
    flow_identity TEXT
);
CREATE INDEX IF NOT EXISTS flow_runs_by_created ON flow_runs (created);
CREATE TABLE IF NOT EXISTS deployments (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deployment_states (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS task_runs (
    id TEXT PRIMARY KEY,
    flow_run_id TEXT,
    task_key TEXT NOT NULL,
    dynamic_key INTEGER NOT NULL,
    name TEXT NOT NULL,
    task_name TEXT NOT NULL,
    state_type TEXT NOT NULL,
    state_name TEXT NOT NULL,
    state_message TEXT,
    run_count INTEGER NOT NULL,
    start_time REAL,
    end_time REAL,
    cache_key TEXT,
    result_serializer TEXT,
    result BLOB,
    result_location TEXT,
    child_flow_run_id TEXT,
    tags TEXT NOT NULL,
    write_seq INTEGER,
    inputs TEXT
);
CREATE INDEX IF NOT EXISTS task_runs_by_flow_run ON task_runs (flow_run_id);
CREATE TABLE IF NOT EXISTS cache_entries (
    key TEXT PRIMARY KEY,
    result_serializer TEXT NOT NULL,
    result BLOB,
    result_location TEXT,
    created REAL NOT NULL,
    expires REAL
);
"""


FLOW_COLUMNS = (
    "id, name, flow_name, state_type, state_name, state_message, parameters_serializer, "
    "parameters, parameters_location, parent_flow_run_id, parent_task_run_id, deployment_id, "
    "created, start_time, end_time, run_count, result_serializer, result, result_location, tags, "
    "deployment_name, schedule_slug, scheduled_start_time, idempotency_key, code_hash, "
    "flow_identity, owner, version"
)

#: Columns added after the first release, added to older databases by ``_migrate``.
ADDED_FLOW_COLUMNS = (
    ("owner", "TEXT"),
    ("version", "INTEGER NOT NULL DEFAULT 0"),
    ("deployment_name", "TEXT"),
    ("schedule_slug", "TEXT"),
    ("scheduled_start_time", "REAL"),
    ("idempotency_key", "TEXT"),
    ("code_hash", "TEXT"),
    ("flow_identity", "TEXT"),
)


#: Columns added to task_runs after the first release.
ADDED_TASK_COLUMNS = (("write_seq", "INTEGER"), ("inputs", "TEXT"))


TASK_COLUMNS = (
    "id, flow_run_id, task_key, dynamic_key, name, task_name, state_type, state_name, "
    "state_message, run_count, start_time, end_time, cache_key, result_serializer, result, "
    "result_location, child_flow_run_id, tags, inputs"
)


TASK_PLACEHOLDERS = ", ".join("?" * 19)


def task_columns(present: set[str]) -> str:
    """``TASK_COLUMNS`` for a database that has only the columns ``present``: one made
    by an earlier flowless and opened read-only (never migrated) reads NULL for those
    added since (a task run's ``inputs``)."""
    added = {name for name, _ in ADDED_TASK_COLUMNS} - present
    return ", ".join(
        "NULL" if name in added else name for name in (c.strip() for c in TASK_COLUMNS.split(","))
    )


TASK_UPDATES = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in TASK_COLUMNS.split(",")[4:])


COMPLETED = StateType.COMPLETED.value
#: Insert a task run, or update it unless it is already COMPLETED (completion is final).


_WRITE_COLUMNS = f"{TASK_COLUMNS}, write_seq"
_WRITE_PLACEHOLDERS = ", ".join("?" * 20)
#: A row replaces the stored one only if it was made later (``write_seq``: when it was
#: made, in ns): rows written by different threads' batches may land in any order, and
#: a start must never replace its own end. COMPLETED is final.
_UPSERT_TAIL = (
    f"ON CONFLICT (id) DO UPDATE SET {TASK_UPDATES}, write_seq = excluded.write_seq "
    f"WHERE task_runs.state_type != '{COMPLETED}' "
    "AND (typeof(task_runs.write_seq) != 'integer' OR excluded.write_seq >= task_runs.write_seq)"
)
UPSERT_TASK_RUN = (
    f"INSERT INTO task_runs ({_WRITE_COLUMNS}) VALUES ({_WRITE_PLACEHOLDERS}) {_UPSERT_TAIL}"
)


def upsert_task_runs(rows: int) -> str:
    """``UPSERT_TASK_RUN`` for ``rows`` task runs in one statement (one call into SQLite)."""
    values = ", ".join([f"({_WRITE_PLACEHOLDERS})"] * rows)
    return f"INSERT INTO task_runs ({_WRITE_COLUMNS}) VALUES {values} {_UPSERT_TAIL}"


def replace_cache_entries(rows: int) -> str:
    """Write ``rows`` cache entries in one statement; an entry never replaces a newer one
    (batches may land in any order)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO cache_entries "
        f"(key, result_serializer, result, result_location, created, expires) VALUES {values} "
        "ON CONFLICT (key) DO UPDATE SET result_serializer = excluded.result_serializer, "
        "result = excluded.result, result_location = excluded.result_location, "
        "created = excluded.created, expires = excluded.expires "
        "WHERE typeof(cache_entries.created) NOT IN ('integer', 'real') "  # a corrupt row
        "OR excluded.created >= cache_entries.created"
    )
