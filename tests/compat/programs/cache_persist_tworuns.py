# Prefect example: cached results persist across runs until their cache_expiration passes
from datetime import timedelta

from flowless import flow, task
from flowless.cache_policies import INPUTS
from flowless.tasks import task_input_hash


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
def expensive_lookup(key: str) -> str:
    print(f"computing expensive_lookup({key})")
    return key.upper()


@task(cache_policy=INPUTS, cache_expiration=timedelta(days=1))
def long_lived(x: int) -> int:
    print(f"computing long_lived({x})")
    return x * 100


@task(cache_policy=INPUTS, cache_expiration=timedelta(milliseconds=1))
def short_lived(y: int) -> int:
    print(f"computing short_lived({y})")
    return y + 100


@flow
def lookup_flow(keys: list[str]) -> list:
    return [expensive_lookup(key) for key in keys] + [long_lived(1), short_lived(2)]


if __name__ == "__main__":
    # Run twice with the same home: the second run computes only what has expired.
    print(lookup_flow(["alpha", "beta"]))
