# Prefect example: a flow that raises - calling it re-raises, return_state=True gives a Failed state
from flowless import flow


@flow
def failing_flow(threshold: int) -> int:
    if threshold > 10:
        raise ValueError(f"threshold {threshold} is too high")
    return threshold


if __name__ == "__main__":
    print(f"ok: {failing_flow(5)}")
    try:
        failing_flow(11)
    except ValueError as exc:
        print(f"caught {type(exc).__name__}: {exc}")

    state = failing_flow(12, return_state=True)
    print(f"state: {state.name} is_failed={state.is_failed()}")
    print(f"message: {state.message}")
    exc = state.result(raise_on_failure=False)
    print(f"result: {type(exc).__name__}: {exc}")
