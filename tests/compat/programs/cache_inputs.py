# Prefect example: cache_policy=INPUTS - a second call with the same inputs is a cache hit
from flowless import flow, task
from flowless.cache_policies import INPUTS

executions = {"count": 0}


@task(cache_policy=INPUTS)
def square(x: int) -> int:
    executions["count"] += 1
    return x * x


@flow
def cached_flow() -> list[int]:
    first = square(4)
    second = square(4)
    third = square(5)
    state = square(5, return_state=True)
    print(f"fourth call state: {state.name}, result={state.result()}")
    return [first, second, third]


if __name__ == "__main__":
    print(f"results: {cached_flow()}")
    print(f"executions: {executions['count']}")
