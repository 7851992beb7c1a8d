# Prefect example: a flow returning the future of a task that succeeds is Completed even though another task failed (docs/v3/concepts/flows.mdx "Return a future")
from flowless import flow, task


@task
def always_fails_task():
    raise ValueError("I fail successfully")


@task
def always_succeeds_task():
    print("I'm fail safe!")
    return "success"


@flow
def always_succeeds_flow():
    x = always_fails_task.submit().result(raise_on_failure=False)
    y = always_succeeds_task.submit(wait_for=[x])
    return y


if __name__ == "__main__":
    state = always_succeeds_flow(return_state=True)
    print(state)
    print(state.result())
