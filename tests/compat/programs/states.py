# Prefect example: return_state=True and inspecting State objects
from flowless import flow, task


@task
def succeed() -> int:
    return 42


@task
def fail() -> int:
    raise ValueError("bad value")


@flow
def state_flow() -> str:
    ok = succeed(return_state=True)
    print(f"ok: name={ok.name} type={ok.type} str={ok}")
    print(f"ok: is_completed={ok.is_completed()} is_failed={ok.is_failed()}")
    print(f"ok: result={ok.result()}")

    bad = fail(return_state=True)
    print(f"bad: name={bad.name} type={bad.type} str={bad}")
    print(f"bad: is_completed={bad.is_completed()} is_failed={bad.is_failed()}")
    print(f"bad: message={bad.message}")
    err = bad.result(raise_on_failure=False)
    print(f"bad: result(raise_on_failure=False) -> {type(err).__name__}: {err}")
    try:
        bad.result()
    except ValueError as exc:
        print(f"bad: result() raised {type(exc).__name__}: {exc}")
    return "done"


if __name__ == "__main__":
    state = state_flow(return_state=True)
    print(f"flow: name={state.name} is_completed={state.is_completed()}")
    print(f"flow: result={state.result()}")
