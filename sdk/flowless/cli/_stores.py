"""What the CLI reads: the embedded store, or the AWS table when ``FLOWLESS_BACKEND=aws``.

The CLI builds its stores itself rather than through the engine's runtime: it needs only
the table (and, to show results, the bucket), not a task-run function to invoke.
"""

from __future__ import annotations

from flowless.engine._runtime import aws_clients
from flowless.exceptions import ConfigurationError, StoreUnavailableError
from flowless.results import LocalFileStorage, Results, local_signer, secret_signer
from flowless.settings import Settings
from flowless.store import LimitStore, SQLiteLimits, SQLiteStore, Store

__all__ = ["open_limits", "open_run_store"]


def _table(settings: Settings) -> str:
    if not settings.table:
        raise ConfigurationError(
            "FLOWLESS_BACKEND=aws needs FLOWLESS_TABLE: the name of the table deployed by "
            "template.yaml (see docs/aws.md)."
        )
    return settings.table


def open_run_store(settings: Settings, writable: bool = False) -> tuple[Store, Results] | None:
    """The run store and results to read (``writable``: to change, as ``flow-run delete``
    does), or None if nothing has run here yet."""
    if settings.backend == "aws":
        from flowless.results import S3BlobStorage
        from flowless.store import DynamoDBStore

        table = _table(settings)
        clients = aws_clients("dynamodb", "s3")
        store = DynamoDBStore(table, clients["dynamodb"])
        signer = secret_signer(
            settings.signing_secret, lambda: aws_clients("secretsmanager")["secretsmanager"]
        )
        return store, Results(S3BlobStorage(settings.bucket or "", clients["s3"]), 0, signer)
    database = settings.home / "flowless.db"
    if not database.exists():
        return None
    try:
        # Reading never waits behind writing flows; a change takes the write lock.
        store = SQLiteStore(database) if writable else SQLiteStore.open_read_only(database)
    except StoreUnavailableError as exc:
        if "no such table" in str(exc):  # only concurrency limits were made here so far
            return None
        raise
    signer = local_signer(settings.home)
    return store, Results(LocalFileStorage(settings.home / "results"), 0, signer)


def open_limits(settings: Settings) -> LimitStore:
    if settings.backend == "aws":
        from flowless.store import DynamoDBLimits

        table = _table(settings)
        limits: LimitStore = DynamoDBLimits(table, aws_clients("dynamodb")["dynamodb"])
        return limits
    return SQLiteLimits(settings.home / "flowless.db")
