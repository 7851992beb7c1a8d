# Prefect example: task and flow timeouts end in a TimedOut state
import time

from flowless import flow, task


@task(timeout_seconds=0.5)
def slow_task() -> str:
    time.sleep(2)
    return "finished"


@flow
def task_timeout_flow() -> None:
    state = slow_task(return_state=True)
    print(f"task: name={state.name} type={state.type} is_failed={state.is_failed()}")
    print(f"task: message={state.message}")


@flow(timeout_seconds=0.5)
def slow_flow() -> str:
    time.sleep(2)
    return "finished"


if __name__ == "__main__":
    task_timeout_flow()
    state = slow_flow(return_state=True)
    print(f"flow: name={state.name} type={state.type} is_failed={state.is_failed()}")
    print(f"flow: message={state.message}")
    try:
        slow_flow()
    except TimeoutError as exc:
        print(f"calling the flow raised {type(exc).__name__}")
