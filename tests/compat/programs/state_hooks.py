# Prefect example: on_completion and on_failure state change hooks for flows and tasks
from flowless import flow, task

events = []


def task_failed(task, task_run, state):
    events.append(f"task {task.name} failed: {state.message}")


def flow_completed(flow, flow_run, state):
    events.append(f"flow {flow.name} completed: {state.name}")


def flow_failed(flow, flow_run, state):
    events.append(f"flow {flow.name} failed: {state.message}")


@task(on_failure=[task_failed])
def divide(a: int, b: int) -> float:
    return a / b


@flow(on_completion=[flow_completed], on_failure=[flow_failed])
def hooked_flow(b: int) -> float:
    return divide(10, b)


if __name__ == "__main__":
    print(hooked_flow(4))
    try:
        hooked_flow(0)
    except ZeroDivisionError as exc:
        print(f"raised {type(exc).__name__}: {exc}")
    for event in events:
        print(event)
