# Prefect example: flow-level retries re-run the whole flow after a failure
from flowless import flow, task

attempts = {"flow": 0, "task": 0}


@task
def load(value: int) -> int:
    attempts["task"] += 1
    return value * 3


@flow(retries=2, retry_delay_seconds=0)
def resilient_flow(value: int) -> int:
    attempts["flow"] += 1
    result = load(value)
    if attempts["flow"] < 2:
        raise ConnectionError("database unavailable")
    return result


if __name__ == "__main__":
    print(f"result: {resilient_flow(5)}")
    print(f"flow attempts: {attempts['flow']}")
