"""Property tests: slots taken, given back and renewed, against a model.

The model keeps every grant as an event (who took how many slots, when, until when) and
answers "how many slots are in use at t" by replaying the events. The code under test is
the acquisition step of ``flowless.concurrency._acquire`` (versioned writes where decay
is computed, versionless lease updates where it is not) on a real SQLite ``LimitStore``,
which folds everything into one record. Random sequences of takes, releases, renewals and
waiting must get the same answers from both, and the limit must never be exceeded.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowless.concurrency._acquire import _take_lease, _take_versioned
from flowless.concurrency._slots import free_in, occupied, taken
from flowless.store import DynamoDBLimits, Lease, LimitRecord, LimitStore, SQLiteLimits
from tests.aws import dynamodb_table

TOLERANCE = 1e-6


@dataclass
class Model:
    limit: int
    decay: float
    #: lease id -> (slots, expires); removed on release
    leases: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: (time, slots) of every rate-limit grant, in time order
    rate_grants: list[tuple[float, int]] = field(default_factory=list)

    def pool(self, t: float) -> float:
        """A leaky bucket, replayed grant by grant."""
        level, last = 0.0, 0.0
        for at, slots in self.rate_grants:
            level = max(0.0, level - self.decay * (at - last)) + slots
            last = at
        return max(0.0, level - self.decay * (t - last)) if self.rate_grants else 0.0

    def used(self, t: float) -> float:
        return sum(s for s, exp in self.leases.values() if exp > t) + self.pool(t)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("lease"), st.integers(1, 4), st.floats(0.1, 5.0)),
        st.tuples(st.just("rate"), st.integers(1, 4), st.just(0.0)),
        st.tuples(st.just("release"), st.integers(0, 20), st.just(0.0)),
        st.tuples(st.just("renew"), st.integers(0, 20), st.floats(0.1, 5.0)),
        st.tuples(st.just("wait"), st.just(0), st.floats(0.0, 3.0)),
    ),
    max_size=30,
)


def attempt(store: LimitStore, name: str, n: int, now: float, lease: Lease | None) -> bool:
    """One acquisition at ``now`` as ``acquire`` makes it, without waiting: True if the
    slots were taken. (A look that reclaimed expired leases is followed by another.)"""
    for _ in range(3):
        [record] = store.read_limits([name]).values()
        if lease is not None and record.slot_decay_per_second == 0:
            blocking, _ = _take_lease(store, [record], lease, now)
        else:
            blocking = _take_versioned(store, [record], n, lease, now)
        if blocking is not None:
            return not blocking
    raise AssertionError("reclaiming expired leases did not settle")


@pytest.fixture(scope="module")
def moto_limits() -> Iterator[LimitStore]:
    """One in-process moto table for every example (each uses a limit of its own)."""
    with dynamodb_table() as (client, table):
        yield DynamoDBLimits(table, client=client)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(1, 6), decay=st.sampled_from([0.0, 0.5, 2.0, 10.0]), steps=ops)
def test_sqlite_agrees_with_the_event_model(
    tmp_path_factory: pytest.TempPathFactory,
    limit: int,
    decay: float,
    steps: list[tuple[str, int, float]],
) -> None:
    store = SQLiteLimits(tmp_path_factory.mktemp("model") / "limits.db")
    check_against_model(store, "m", limit, decay, steps)
    store.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(1, 6), decay=st.sampled_from([0.0, 2.0]), steps=ops)
def test_dynamodb_agrees_with_the_event_model(
    moto_limits: LimitStore, limit: int, decay: float, steps: list[tuple[str, int, float]]
) -> None:
    check_against_model(moto_limits, f"m-{uuid.uuid4().hex}", limit, decay, steps)


def check_against_model(
    store: LimitStore, name: str, limit: int, decay: float, steps: list[tuple[str, int, float]]
) -> None:
    store.create_limit(LimitRecord(name, limit, slot_decay_per_second=decay))
    model = Model(limit, decay)
    now = 0.0
    ids: list[str] = []
    for kind, n, x in steps:
        if kind == "wait":
            now += x
        elif kind in ("lease", "rate"):
            if kind == "rate" and decay == 0:
                continue  # rate_limit refuses limits without decay before any arithmetic
            lease = Lease(f"l{len(ids)}", n, now + x) if kind == "lease" else None
            fits = model.used(now) + n <= limit + TOLERANCE
            [before] = store.read_limits([name]).values()
            wait = free_in(before, n, now)
            assert attempt(store, name, n, now, lease) == fits, (kind, n, now, model.used(now))
            if not fits:
                # free_in is never too early: nothing frees before it says...
                if math.isfinite(wait) and wait > 1e-3:
                    assert taken(before, n, now + wait - 1e-3, lease) is None
                # ...and, when it is finite, exactly then the slots are free
                if math.isfinite(wait):
                    assert taken(before, n, now + wait + 1e-7, lease) is not None
            elif lease is not None:
                ids.append(lease.id)
                model.leases[lease.id] = (n, lease.expires)
            else:
                model.rate_grants.append((now, n))
        elif kind == "release" and ids:
            lease_id = ids[n % len(ids)]
            slots = model.leases.get(lease_id, (0, 0.0))[0]
            live = lease_id in model.leases and model.leases[lease_id][1] > now
            removed = store.remove_lease(name, lease_id, slots)
            assert removed or not live  # a live lease is always there to give back
            model.leases.pop(lease_id, None)
        elif kind == "renew" and ids:
            lease_id = ids[n % len(ids)]
            live = lease_id in model.leases and model.leases[lease_id][1] > now
            renewed = store.renew_lease(name, lease_id, now + x)
            assert renewed or not live  # a live lease is never lost
            if renewed:  # an expired one not yet reclaimed may be renewed: it still counted
                model.leases[lease_id] = (model.leases[lease_id][0], now + x)
        [record] = store.read_limits([name]).values()
        used = occupied(record, now)
        assert abs(used - model.used(now)) < TOLERANCE
        assert used <= limit + TOLERANCE


@given(
    limit=st.integers(1, 10),
    decay=st.floats(0.1, 20.0),
    gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=60),
)
def test_rate_grants_never_outrun_limit_plus_decay_times_elapsed(
    limit: int, decay: float, gaps: list[float]
) -> None:
    """The rate-limit invariant: by any time t, at most limit + decay * t were granted."""
    record = LimitRecord("r", limit, slot_decay_per_second=decay)
    now, granted = 0.0, 0
    for gap in gaps:
        now += gap
        while (new := taken(record, 1, now, None)) is not None:
            record, granted = new, granted + 1
        assert granted <= limit + decay * now + TOLERANCE
