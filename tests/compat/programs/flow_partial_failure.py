# Prefect example: a flow returning task states is Failed if any of them failed
from flowless import flow, task


@task
def check(n: int) -> int:
    if n == 2:
        raise ValueError(f"{n} is not allowed")
    return n


@flow
def partial_flow():
    return [check(n, return_state=True) for n in (1, 2, 3)]


if __name__ == "__main__":
    state = partial_flow(return_state=True)
    print(f"state: {state.name}")
    print(f"is_failed: {state.is_failed()}")
    print(f"message: {state.message}")
    inner = state.result(raise_on_failure=False)
    print(f"result(raise_on_failure=False): {[s.name for s in inner]}")
    try:
        state.result()
    except ValueError as exc:
        print(f"result() raised {type(exc).__name__}: {exc}")

    returned = partial_flow()
    print(f"calling the flow returned: {[s.name for s in returned]}")
