"""Settings, read from ``FLOWLESS_*`` environment variables.

Read when a flow run starts (not once at import), so a test or a script can change
``FLOWLESS_HOME`` between runs in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flowless.exceptions import ConfigurationError

__all__ = ["Settings", "current_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    #: Where the embedded store keeps its SQLite database and result files.
    home: Path
    #: Console log level for run logs.
    logging_level: str
    #: Threads in a flow run's task runner unless the flow names its own.
    task_runner_max_workers: int
    #: Results up to this many bytes live inside the task-run record; larger ones in files.
    results_inline_max_bytes: int
    #: ``local`` (SQLite, threads) or ``aws`` (DynamoDB, S3, one Lambda invocation per task).
    backend: str = "local"
    #: AWS resources (``docs/aws.md``); empty unless the backend is ``aws``.
    table: str = ""
    bucket: str = ""
    task_function: str = ""
    flow_function: str = ""
    #: On ``aws``: ``lambda`` (each task run one invocation) or ``local`` (task runs in
    #: this process; the task-run function's setting, for tasks that call tasks).
    invoker: str = "lambda"
    #: On ``aws``: name or ARN of the stack's secret that signs pickles (docs/security.md).
    signing_secret: str = ""


def _int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer.") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} must be at least {minimum}.")
    return value


BACKENDS = ("local", "aws")
INVOKERS = ("lambda", "local")


def current_settings() -> Settings:
    home = os.environ.get("FLOWLESS_HOME") or os.path.join("~", ".flowless")
    backend = os.environ.get("FLOWLESS_BACKEND", "local").strip().lower() or "local"
    if backend not in BACKENDS:
        raise ConfigurationError(
            f"FLOWLESS_BACKEND={backend!r} is not a backend; use one of {', '.join(BACKENDS)}."
        )
    invoker = os.environ.get("FLOWLESS_INVOKER", "lambda").strip().lower() or "lambda"
    if invoker not in INVOKERS:
        raise ConfigurationError(
            f"FLOWLESS_INVOKER={invoker!r} is not an invoker; use one of {', '.join(INVOKERS)}."
        )
    return Settings(
        home=Path(home).expanduser(),
        logging_level=os.environ.get("FLOWLESS_LOGGING_LEVEL", "INFO").upper(),
        task_runner_max_workers=_int("FLOWLESS_TASK_RUNNER_MAX_WORKERS", 16, 1),
        results_inline_max_bytes=_int("FLOWLESS_RESULTS_INLINE_MAX_BYTES", 64 * 1024, 0),
        backend=backend,
        table=os.environ.get("FLOWLESS_TABLE", ""),
        bucket=os.environ.get("FLOWLESS_BUCKET", ""),
        task_function=os.environ.get("FLOWLESS_TASK_FUNCTION", ""),
        flow_function=os.environ.get("FLOWLESS_FLOW_FUNCTION", ""),
        invoker=invoker,
        signing_secret=os.environ.get("FLOWLESS_SIGNING_SECRET", ""),
    )
