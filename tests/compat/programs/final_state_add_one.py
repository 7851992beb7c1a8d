# Prefect example: a task failing under return_state=True does not fail the flow that returns normally (docs/snippets/final-flow-state.mdx)
from flowless import flow, task 


@task 
def add_one(x):
    return x + 1


@flow 
def my_flow():
    # avoided raising an exception via `return_state=True`
    state = add_one("1", return_state=True)
    assert state.is_failed()

    # the flow function returns successfully!
    return


if __name__ == "__main__":
    print(my_flow(return_state=True))
