# Prefect example: in Prefect 3 a task can be called directly, without a flow
from flowless import task


@task
def greet(name: str) -> str:
    return f"hello, {name}"


@task(retries=1, retry_delay_seconds=0)
def add(x: int, y: int) -> int:
    return x + y


@task
def add_twice(x: int) -> int:
    return add(add(x, x), x)


if __name__ == "__main__":
    print(greet("world"))
    print(add(2, 3))
    print(add_twice(5))
    state = greet("state", return_state=True)
    print(f"{state.name}: {state.result()}")
    print(greet.fn("plain function"))
