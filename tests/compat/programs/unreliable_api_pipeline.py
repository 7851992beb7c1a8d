# Prefect example: the "unreliable API" pipeline - retries make a flaky extract step reliable
import random

from flowless import flow, task

# A private generator: the global one may also be used by library code running in the background.
rng = random.Random(12)
database = []


@task(retries=4, retry_delay_seconds=0)
def call_unreliable_api() -> dict:
    choices = [{"data": 42}, {"data": 17}, None, None]
    res = rng.choice(choices)
    if res is None:
        raise ValueError("API returned no data")
    return res


@task
def augment_data(data: dict) -> dict:
    data["data"] = data["data"] * 10
    return data


@task
def write_results_to_database(data: dict) -> dict:
    database.append(data)
    print(f"wrote {data}")
    return data


@flow
def etl_pipeline() -> dict:
    raw = call_unreliable_api()
    augmented = augment_data(raw)
    return write_results_to_database(augmented)


if __name__ == "__main__":
    for _ in range(3):
        print(f"pipeline returned: {etl_pipeline()}")
    print(f"database: {database}")
