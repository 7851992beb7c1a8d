# Prefect example: a task exception propagating out of the flow that called it (docs/v3/how-to-guides/migrate/upgrade-to-prefect-3.mdx "Allow Unhandled Exceptions")
from flowless import flow, task

@task
def failing_task():
    raise ValueError("Task failed")

@flow
def my_flow():
    failing_task()  # Exception propagates, causing flow failure

if __name__ == "__main__":
    try:
        my_flow()
    except ValueError as e:
        print(f"Flow failed: {e}")  # Output: Flow failed: Task failed
