# Prefect example: cache_policy=INPUTS - 'debug' ignores the debug argument in the cache key (docs/v3/how-to-guides/workflows/cache-workflow-steps.mdx; sleep shortened from 10 s to 0.1 s)
from flowless import task
from flowless.cache_policies import INPUTS
import time


@task(cache_policy=INPUTS - 'debug')
def my_stateful_task(x: int, debug: bool = False):
    print('sleeping')
    time.sleep(0.1)
    return x + 1


if __name__ == "__main__":
    my_stateful_task(x=1) # sleeps
    my_stateful_task(x=1, debug=True) # does not sleep
    my_stateful_task(x=1, debug=False) # does not sleep
