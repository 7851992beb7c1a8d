# Prefect example: cache_expiration - an expired cache entry is recomputed on the next run
from datetime import timedelta

from flowless import flow, task
from flowless.cache_policies import INPUTS


@task(cache_policy=INPUTS, cache_expiration=timedelta(days=1))
def long_lived(x: int) -> int:
    print(f"computing long_lived({x})")
    return x * 100


@task(cache_policy=INPUTS, cache_expiration=timedelta(milliseconds=1))
def short_lived(x: int) -> int:
    print(f"computing short_lived({x})")
    return x + 100


@flow
def expiring_flow() -> list[int]:
    return [long_lived(1), short_lived(2)]


if __name__ == "__main__":
    # Run twice with the same home: long_lived hits the cache, short_lived has expired.
    print(expiring_flow())
