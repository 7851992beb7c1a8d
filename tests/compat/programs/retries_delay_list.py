# Prefect example: retry_delay_seconds given as a list of delays, one per retry
from flowless import flow, task

attempts = []


@task(retries=2, retry_delay_seconds=[0, 0])
def always_fails(x: int) -> int:
    attempts.append(x)
    raise ValueError(f"attempt {len(attempts)} failed")


@flow
def list_delay_flow() -> None:
    state = always_fails(7, return_state=True)
    print(f"task state: {state.name}")
    try:
        state.result()
    except ValueError as exc:
        print(f"task raised: {exc}")


if __name__ == "__main__":
    list_delay_flow()
    print(f"attempts: {len(attempts)}")
