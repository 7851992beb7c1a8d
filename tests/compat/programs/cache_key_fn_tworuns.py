# Prefect example: cache_key_fn=task_input_hash with cache_expiration, cache shared across runs
from datetime import timedelta

from flowless import flow, task
from flowless.tasks import task_input_hash


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
def expensive_lookup(key: str) -> str:
    print(f"computing {key}")
    return key.upper()


@flow
def lookup_flow(keys: list[str]) -> list[str]:
    return [expensive_lookup(key) for key in keys]


if __name__ == "__main__":
    # The first run computes every key; the second run (same home) reads them from the cache.
    print(lookup_flow(["alpha", "beta"]))
