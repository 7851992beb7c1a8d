# Prefect example: passing kwargs to an on_failure hook with functools.partial and with_options (docs/v3/how-to-guides/workflows/state-change-hooks.mdx)
from functools import partial
from flowless import flow, task

data = {}

def my_hook(task, task_run, state, **kwargs):
    data.update(state=state, **kwargs)

@task
def bad_task():
    raise ValueError("meh")

@flow
def ok_with_failure_flow(x: str = "foo", y: int = 42):
    bad_task_with_a_hook = bad_task.with_options(
        on_failure=[partial(my_hook, **dict(x=x, y=y))]
    )
    # return a tuple of "bar" and the task run state
    # to avoid raising the task's exception
    return "bar", bad_task_with_a_hook(return_state=True)

if __name__ == "__main__":
    _, task_run_state = ok_with_failure_flow()

    assert data == {"x": "foo", "y": 42, "state": task_run_state}
    print(_)
    print(task_run_state)
    print(sorted(data))
