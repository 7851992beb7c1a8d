# Prefect example: exponential_backoff computes the retry delays for a task
from flowless import flow, task
from flowless.tasks import exponential_backoff

print(exponential_backoff(backoff_factor=10)(3))
print(exponential_backoff(backoff_factor=0.5)(4))

calls = {"n": 0}


@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=0.01))
def eventually_works() -> str:
    calls["n"] += 1
    if calls["n"] <= 2:
        raise ConnectionError(f"failure {calls['n']}")
    return f"worked on try {calls['n']}"


@flow
def backoff_flow() -> str:
    return eventually_works()


if __name__ == "__main__":
    print(backoff_flow())
