# Prefect example: tags given at call time with the tags context manager instead of in the task definition (docs/v3/develop/write-tasks.mdx, Prefect 3.3)
from flowless import flow, task
from flowless import tags


@task
def my_task():
    print("Hello, I'm a task")


@flow
def my_flow():
    with tags("test"):
        my_task()


if __name__ == "__main__":
    my_flow()
