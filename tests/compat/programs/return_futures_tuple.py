# Prefect example: a flow returning a tuple of task results and a subflow result, one of which fails (docs/v3/concepts/flows.mdx "Return multiple states or futures")
from flowless import task, flow


@task
def always_fails_task():
    raise ValueError("I am bad task")


@task
def always_succeeds_task():
    return "foo"


@flow
def always_succeeds_flow():
    return "bar"


@flow
def always_fails_flow():
    x = always_fails_task()
    y = always_succeeds_task()
    z = always_succeeds_flow()
    return x, y, z


if __name__ == "__main__":
    state = always_fails_flow(return_state=True)
    print(state)
    print(state.type)
