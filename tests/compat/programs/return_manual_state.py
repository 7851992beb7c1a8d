# Prefect example: a flow returning a manually created Completed state with its own message (docs/v3/concepts/flows.mdx "Return a manual state")
from flowless import task, flow
from flowless.states import Completed, Failed


@task
def always_fails_task():
    raise ValueError("I fail successfully")


@task
def always_succeeds_task():
    print("I'm fail safe!")
    return "success"


@flow
def always_succeeds_flow():
    x = always_fails_task.submit()
    y = always_succeeds_task.submit()
    if y.result() == "success":
        return Completed(message="I am happy with this result")
    else:
        return Failed(message="How did this happen!?")


if __name__ == "__main__":
    state = always_succeeds_flow(return_state=True)
    print(state)
    print(state.result())
