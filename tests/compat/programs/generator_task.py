# Prefect example: a generator function as a task whose yielded values feed another task (docs/v3/develop/write-tasks.mdx, Prefect 3.3)
from flowless import task


@task
def generator():
    for i in range(10):
        yield i


@task
def consumer(x):
    print(x)


if __name__ == "__main__":
    for val in generator():
        consumer(val)
