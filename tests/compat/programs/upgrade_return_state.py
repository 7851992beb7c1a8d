# Prefect example: checking a task's state with return_state=True and re-raising its error (docs/v3/how-to-guides/migrate/upgrade-to-prefect-3.mdx "Use return_state")
from flowless import flow, task
from flowless.states import Failed

@task
def failing_task():
    raise ValueError("Task failed")

@flow
def my_flow():
    state = failing_task(return_state=True)
    if state.is_failed():
        raise ValueError(state.result())
    return "Flow completed successfully"

if __name__ == "__main__":
    try:
        print(my_flow())
    except ValueError as e:
        print(f"Flow failed: {e}")  # Output: Flow failed: Task failed
