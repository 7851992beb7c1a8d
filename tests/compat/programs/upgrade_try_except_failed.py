# Prefect example: a flow catching a task's exception and returning a Failed state (docs/v3/how-to-guides/migrate/upgrade-to-prefect-3.mdx "Use try/except")
from flowless import flow, task
from flowless.states import Failed

@task
def failing_task():
    raise ValueError("Task failed")

@flow
def my_flow():
    try:
        failing_task()
    except ValueError:
        return Failed(message="Flow failed due to task failure")
    return "Flow completed successfully"

if __name__ == "__main__":
    try:
        print(my_flow())  # Output: Failed(message='Flow failed due to task failure')
    except BaseException as exc:
        print(f"{type(exc).__name__}: {exc}")
