"""The ``backend`` fixture every Store contract test runs against: each backend must
pass the contract files unchanged. Add a backend by adding a parameter here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowless.store import DynamoDBStore, SQLiteStore, Store
from tests.aws import dynamodb_table


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store: Store = SQLiteStore(tmp_path / "contract.db")
        assert isinstance(store, Store)
        yield store
        store.close()
        return
    with dynamodb_table() as (client, table):
        store = DynamoDBStore(table, client=client)
        assert isinstance(store, Store)
        yield store
