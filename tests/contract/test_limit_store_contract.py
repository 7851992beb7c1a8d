"""The LimitStore contract: every backend of concurrency limits must pass this file.

The policy (decay, leases, waiting) is above the backends and tested on its own; what a
backend promises is small and exact: versioned records, conditional writes that are all
or nothing, and names that are unique.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowless.exceptions import (
    CorruptRecordError,
    RecordConflictError,
    RecordExistsError,
    RecordNotFoundError,
)
from flowless.store import (
    CacheEntry,
    CorruptRecord,
    DynamoDBLimits,
    Lease,
    LimitRecord,
    LimitStore,
    Payload,
    SQLiteLimits,
    SQLiteStore,
)
from tests.aws import dynamodb_table


@pytest.fixture(params=["sqlite", "sqlite-shared", "dynamodb"])
def limits(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LimitStore]:
    if request.param == "sqlite":
        store: LimitStore = SQLiteLimits(tmp_path / "limits.db")
        assert isinstance(store, LimitStore)
        yield store
        return
    if request.param == "sqlite-shared":  # as the engine has it: the run store's connection
        runs = SQLiteStore(tmp_path / "flowless.db")
        store = SQLiteLimits(tmp_path / "flowless.db", runs)
        yield store
        runs.close()
        return
    with dynamodb_table() as (client, table):
        store = DynamoDBLimits(table, client=client)
        assert isinstance(store, LimitStore)
        yield store


def limit(name: str = "github-api", **changes: object) -> LimitRecord:
    record = LimitRecord(name=name, limit=3, slot_decay_per_second=0.5, created=1.0, updated=1.0)
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def test_a_created_limit_reads_back_at_version_zero(limits: LimitStore) -> None:
    limits.create_limit(limit(version=7))
    assert limits.read_limits(["github-api"]) == {"github-api": limit(version=0)}


def test_every_field_round_trips(limits: LimitStore) -> None:
    full = limit(
        active=False,
        pool=2.25,
        pool_time=1234.5,
        leases=(Lease("a1", 2, 99.5, "task run 'x'"), Lease("b2", 1, 100.0, "")),
        created=10.0,
        updated=11.5,
    )
    limits.create_limit(full)
    assert limits.read_limits(["github-api"])["github-api"] == full


def test_names_are_unique(limits: LimitStore) -> None:
    limits.create_limit(limit())
    with pytest.raises(RecordExistsError, match="'github-api' already exists"):
        limits.create_limit(limit(limit=9))
    assert limits.read_limits(["github-api"])["github-api"].limit == 3


def test_reading_names_that_do_not_exist_leaves_them_out(limits: LimitStore) -> None:
    limits.create_limit(limit("a"))
    assert set(limits.read_limits(["a", "nope", "a"])) == {"a"}
    assert limits.read_limits([]) == {}


def test_a_write_bumps_the_version_and_one_from_an_old_read_is_refused(
    limits: LimitStore,
) -> None:
    limits.create_limit(limit())
    read = limits.read_limits(["github-api"])["github-api"]
    limits.write_limits([dataclasses.replace(read, pool=1.0)])
    stored = limits.read_limits(["github-api"])["github-api"]
    assert (stored.version, stored.pool) == (1, 1.0)
    with pytest.raises(RecordConflictError, match="changed by someone else"):
        limits.write_limits([dataclasses.replace(read, pool=2.0)])
    assert limits.read_limits(["github-api"])["github-api"] == stored


def test_writing_several_limits_is_all_or_nothing(limits: LimitStore) -> None:
    limits.create_limit(limit("a"))
    limits.create_limit(limit("b"))
    a, b = (limits.read_limits(["a", "b"])[n] for n in "ab")
    limits.write_limits([dataclasses.replace(b, pool=1.0)])  # b moves on
    with pytest.raises(RecordConflictError, match="'b'"):
        limits.write_limits([dataclasses.replace(a, pool=3.0), dataclasses.replace(b, pool=3.0)])
    after = limits.read_limits(["a", "b"])
    assert (after["a"].pool, after["a"].version) == (0.0, 0)  # a untouched
    assert (after["b"].pool, after["b"].version) == (1.0, 1)
    limits.write_limits([dataclasses.replace(after["a"], pool=2.0), after["b"]])
    both = limits.read_limits(["a", "b"])
    assert (both["a"].version, both["b"].version) == (1, 2)


def test_writing_a_limit_that_is_gone_says_so(limits: LimitStore) -> None:
    limits.create_limit(limit())
    read = limits.read_limits(["github-api"])["github-api"]
    limits.delete_limit("github-api")
    with pytest.raises(RecordNotFoundError, match="'github-api' not found"):
        limits.write_limits([read])
    assert limits.read_limits(["github-api"]) == {}  # the write did not create it


def test_delete_and_list(limits: LimitStore) -> None:
    for name in ("b", "a", "tag:etl"):
        limits.create_limit(limit(name))
    assert [x.name for x in limits.list_limits() if isinstance(x, LimitRecord)] == [
        "a",
        "b",
        "tag:etl",
    ]
    limits.delete_limit("b")
    with pytest.raises(RecordNotFoundError, match="'b' not found"):
        limits.delete_limit("b")
    assert [x.name for x in limits.list_limits() if isinstance(x, LimitRecord)] == ["a", "tag:etl"]
    limits.create_limit(limit("b", limit=1))  # the name is free again
    assert limits.read_limits(["b"])["b"].limit == 1


def test_concurrent_writers_from_one_read_only_one_wins(limits: LimitStore) -> None:
    limits.create_limit(limit())
    read = limits.read_limits(["github-api"])["github-api"]
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def writer(i: int) -> None:
        barrier.wait()
        try:
            limits.write_limits([dataclasses.replace(read, pool=float(i))])
            outcomes.append("won")
        except RecordConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    assert limits.read_limits(["github-api"])["github-api"].version == 1


def test_a_corrupt_sqlite_row_is_reported_and_others_still_list(tmp_path: Path) -> None:
    store = SQLiteLimits(tmp_path / "limits.db")
    store.create_limit(limit("good"))
    store.create_limit(limit("bad"))
    conn = sqlite3.connect(tmp_path / "limits.db")
    conn.execute("UPDATE concurrency_limits SET body = '{\"limit\": \"three\"}' WHERE name='bad'")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptRecordError, match=r"'bad'.* is corrupt"):
        store.read_limits(["bad"])
    listed = store.list_limits()
    assert [type(x) for x in listed] == [CorruptRecord, LimitRecord]
    assert "limit is str" in listed[0].describe()  # type: ignore[union-attr]


def test_a_corrupt_dynamodb_item_is_reported_and_others_still_list() -> None:
    with dynamodb_table() as (client, table):
        store = DynamoDBLimits(table, client=client)
        store.create_limit(limit("good"))
        store.create_limit(limit("bad"))
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "LIMIT#bad"}, "sk": {"S": "LIMIT"}},
            UpdateExpression="SET #l = :s",
            ExpressionAttributeNames={"#l": "limit"},
            ExpressionAttributeValues={":s": {"S": "three"}},
        )
        with pytest.raises(CorruptRecordError, match=r"'bad'.* is corrupt"):
            store.read_limits(["bad"])
        assert [type(x) for x in store.list_limits()] == [CorruptRecord, LimitRecord]
        assert store.read_limits(["good"])["good"].limit == 3


def flat(name: str = "db", limit_: int = 3, **changes: object) -> LimitRecord:
    return limit(name, limit=limit_, slot_decay_per_second=0.0, **changes)


def test_add_lease_takes_room_until_the_limit_is_full(limits: LimitStore) -> None:
    limits.create_limit(flat())
    assert limits.add_lease(["db"], Lease("a", 2, 50.0, "me"), {"db": 3}) == {}
    refused = limits.add_lease(["db"], Lease("b", 2, 50.0), {"db": 3})
    assert [x.id for x in refused["db"].leases] == ["a"]  # the stored record comes back
    assert limits.add_lease(["db"], Lease("c", 1, 50.0), {"db": 3}) == {}
    stored = limits.read_limits(["db"])["db"]
    assert [(x.id, x.slots, x.holder) for x in stored.leases] == [
        ("a", 2, "me"),
        ("c", 1, ""),
    ]
    assert stored.version == 2  # every change bumps it, so versioned writers see it


def test_add_lease_refuses_when_the_limit_changed_under_it(limits: LimitStore) -> None:
    limits.create_limit(flat())
    read = limits.read_limits(["db"])["db"]
    limits.write_limits([dataclasses.replace(read, limit=1)])  # lowered meanwhile
    assert "db" in limits.add_lease(["db"], Lease("a", 1, 50.0), {"db": 3})
    assert limits.add_lease(["db"], Lease("a", 1, 50.0), {"db": 1}) == {}
    limits.create_limit(limit("decaying"))  # decay: leases need the versioned path
    assert "decaying" in limits.add_lease(["decaying"], Lease("a", 1, 50.0), {"decaying": 3})
    limits.create_limit(flat("off", active=False))
    assert "off" in limits.add_lease(["off"], Lease("a", 1, 50.0), {"off": 3})


def test_add_lease_on_several_limits_is_all_or_nothing(limits: LimitStore) -> None:
    limits.create_limit(flat("a", 2))
    limits.create_limit(flat("b", 1))
    assert limits.add_lease(["b"], Lease("x", 1, 50.0), {"b": 1}) == {}
    refused = limits.add_lease(["a", "b"], Lease("y", 1, 50.0), {"a": 2, "b": 1})
    assert set(refused) == {"b"}
    assert limits.read_limits(["a"])["a"].leases == ()  # a took nothing
    assert limits.remove_lease("b", "x", 1)
    assert limits.add_lease(["a", "b"], Lease("y", 1, 50.0), {"a": 2, "b": 1}) == {}
    both = limits.read_limits(["a", "b"])
    assert [x.id for x in both["a"].leases] == [x.id for x in both["b"].leases] == ["y"]


def test_add_lease_on_a_deleted_limit_says_so(limits: LimitStore) -> None:
    limits.create_limit(flat("a"))
    limits.create_limit(flat("b"))
    limits.delete_limit("b")
    with pytest.raises(RecordNotFoundError):
        limits.add_lease(["a", "b"], Lease("y", 1, 50.0), {"a": 3, "b": 3})
    assert limits.read_limits(["a"])["a"].leases == ()


def test_remove_and_renew_leases(limits: LimitStore) -> None:
    limits.create_limit(flat(limit_=2))
    limits.add_lease(["db"], Lease("a", 1, 50.0), {"db": 2})
    limits.add_lease(["db"], Lease("b", 1, 50.0), {"db": 2})
    assert limits.renew_lease("db", "a", 80.0)
    assert not limits.remove_lease("db", "a", 1, expires=50.0)  # renewed: not reclaimable
    assert limits.remove_lease("db", "a", 1, expires=80.0)
    assert not limits.remove_lease("db", "a", 1)  # twice: nothing to give back
    assert not limits.renew_lease("db", "a", 90.0)  # gone: the renewal says so
    assert limits.remove_lease("db", "b", 1)
    assert limits.read_limits(["db"])["db"].leases == ()
    # The room is whole again: two leases fit, a third does not.
    assert limits.add_lease(["db"], Lease("c", 2, 50.0), {"db": 2}) == {}
    assert "db" in limits.add_lease(["db"], Lease("d", 1, 50.0), {"db": 2})
    assert not limits.remove_lease("nope", "c", 1)
    assert not limits.renew_lease("nope", "c", 1.0)


def test_versioned_writes_and_lease_updates_keep_one_count(limits: LimitStore) -> None:
    """A full write (gcl update, reset) and versionless lease updates on one limit agree
    on how many slots are held."""
    limits.create_limit(flat(limit_=2))
    limits.add_lease(["db"], Lease("a", 1, 50.0), {"db": 2})
    read = limits.read_limits(["db"])["db"]
    limits.write_limits([dataclasses.replace(read, leases=())])  # a reset
    assert limits.add_lease(["db"], Lease("b", 2, 50.0), {"db": 2}) == {}
    assert not limits.remove_lease("db", "a", 1)  # the reset took it
    assert "db" in limits.add_lease(["db"], Lease("c", 1, 50.0), {"db": 2})


def test_a_retried_add_lease_takes_the_slots_once(limits: LimitStore) -> None:
    """botocore retries a request whose answer was lost: the retry must not count the
    lease twice, or the limit would leak slots for good."""
    limits.create_limit(flat(limit_=2))
    lease = Lease("a", 1, 50.0)
    assert limits.add_lease(["db"], lease, {"db": 2}) == {}
    assert limits.add_lease(["db"], lease, {"db": 2}) == {}  # the retry: success, no change
    assert [x.id for x in limits.read_limits(["db"])["db"].leases] == ["a"]
    assert limits.remove_lease("db", "a", 1)
    assert limits.add_lease(["db"], Lease("b", 2, 50.0), {"db": 2}) == {}  # all room is back


def test_a_drifted_held_count_heals_on_the_next_refusal() -> None:
    """An item whose ``held`` says more than its leases (an update applied twice before
    the guard above existed) is rewritten by the acquirer it refuses."""
    with dynamodb_table() as (client, table):
        store = DynamoDBLimits(table, client=client)
        store.create_limit(flat(limit_=1))
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "LIMIT#db"}, "sk": {"S": "LIMIT"}},
            UpdateExpression="SET held = :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        assert "db" in store.add_lease(["db"], Lease("a", 1, 50.0), {"db": 1})  # refused...
        assert store.add_lease(["db"], Lease("a", 1, 50.0), {"db": 1}) == {}  # ...then fine


def test_a_refused_limits_write_keeps_the_run_stores_pending_writes(tmp_path: Path) -> None:
    runs = SQLiteStore(tmp_path / "flowless.db")
    shared = SQLiteLimits(tmp_path / "flowless.db", runs)
    shared.create_limit(limit("a"))
    read = shared.read_limits(["a"])["a"]
    shared.write_limits([dataclasses.replace(read, pool=1.0)])
    entry = CacheEntry("k", Payload("json", b"1"), created=1.0)
    runs.write_cache_entry(entry)  # pending in the group commit
    with pytest.raises(RecordConflictError):
        shared.write_limits([dataclasses.replace(read, pool=2.0)])  # rolled back: its part only
    runs.close()
    reopened = SQLiteStore(tmp_path / "flowless.db")
    assert reopened.read_cache_entry("k", now=2.0) == entry
    assert SQLiteLimits(tmp_path / "flowless.db").read_limits(["a"])["a"].pool == 1.0
    reopened.close()
