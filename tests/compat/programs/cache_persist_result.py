# Prefect example: persist_result=True turns on the DEFAULT cache policy - a second call with the same input in one flow run is Cached (docs/v3/how-to-guides/workflows/cache-workflow-steps.mdx)
from flowless import task, flow


@task(persist_result=True)
def add_one(x: int):
    return x + 1


@flow
def my_flow():
    add_one(1) # will not be cached
    add_one(1) # will be cached
    add_one(2) # will not be cached


if __name__ == "__main__":
    my_flow()
