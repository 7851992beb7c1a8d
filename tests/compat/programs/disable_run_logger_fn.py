# Prefect example: testing a task's underlying function with .fn() inside disable_run_logger() (docs/v3/how-to-guides/workflows/test-workflows.mdx)
from flowless import flow, task
from flowless.logging import disable_run_logger


@task
def my_favorite_task():
    return 42


@flow
def my_favorite_flow():
    val = my_favorite_task()
    return val


def test_my_favorite_task():
    with disable_run_logger():
        assert my_favorite_task.fn() == 42


if __name__ == "__main__":
    test_my_favorite_task()
    print(my_favorite_task.fn())
    print(my_favorite_flow())
