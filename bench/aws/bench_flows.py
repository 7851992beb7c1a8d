"""The flows ``bench/aws_calls.py`` runs on the local cloud's flow-run function (this
directory is one of the functions' code paths, as ``examples/`` is)."""

from __future__ import annotations

from flowless import flow, task
from flowless.cache_policies import INPUTS

_attempts: dict[str, int] = {}


@task
def noop(i: int) -> int:
    return i


@task(cache_policy=INPUTS)
def cached(i: int, salt: str) -> int:
    return i


@task(retries=1, retry_delay_seconds=0)
def flaky(i: int, salt: str) -> int:
    """Fails its first attempt (in this worker), succeeds on the retry."""
    key = f"{salt}:{i}"
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise ConnectionError("first attempt fails")
    return i


@task
def large(i: int, size: int) -> str:
    return "x" * size


@flow
def sequential(n: int) -> int:
    """``n`` task runs, one after another."""
    return sum(noop(i) for i in range(n))


@flow
def mapped(n: int) -> int:
    """``n`` task runs at once (``.map``)."""
    return sum(noop.map(range(n)).result())


@flow
def cache_hits(n: int, salt: str) -> int:
    """``n`` cached task runs: all misses the first time, all hits the second."""
    return sum(cached(i, salt) for i in range(n))


@flow
def retried(n: int, salt: str) -> int:
    """``n`` task runs that each fail once and pass on their retry."""
    return sum(flaky(i, salt) for i in range(n))


@flow
def large_results(n: int, size: int) -> int:
    """``n`` task runs whose results are too large for the table (S3)."""
    return sum(len(large(i, size)) for i in range(n))
