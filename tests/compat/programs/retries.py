# Prefect example: task retries with a flaky function that fails twice, then succeeds
from flowless import flow, task

calls = {"flaky": 0}


@task(retries=3, retry_delay_seconds=0)
def flaky() -> str:
    calls["flaky"] += 1
    print(f"attempt {calls['flaky']}")
    if calls["flaky"] < 3:
        raise RuntimeError("boom")
    return "ok"


@flow
def retry_flow() -> str:
    return flaky()


if __name__ == "__main__":
    print(f"result: {retry_flow()}")
    print(f"attempts: {calls['flaky']}")
