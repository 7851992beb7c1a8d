# Prefect example: cache_policy=INPUTS on a task called outside a flow - the same input is not recomputed (docs/v3/how-to-guides/workflows/cache-workflow-steps.mdx; sleep shortened from 10 s to 0.1 s)
from flowless import task
from flowless.cache_policies import INPUTS
import time


@task(cache_policy=INPUTS)
def my_stateful_task(x: int):
    print('sleeping')
    time.sleep(0.1)
    return x + 1


if __name__ == "__main__":
    print(my_stateful_task(x=1)) # sleeps
    print(my_stateful_task(x=1)) # does not sleep
    print(my_stateful_task(x=2)) # sleeps
