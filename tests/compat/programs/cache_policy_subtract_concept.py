# Prefect example: a custom policy INPUTS - 'debug' assigned to a variable; the debug=True call still uses the cache (docs/v3/concepts/caching.mdx)
from flowless import task
from flowless.cache_policies import INPUTS

my_custom_policy = INPUTS - 'debug'

@task(cache_policy=my_custom_policy)
def my_cached_task(x: int, debug: bool = False):
    print('running...')
    return x + 42


if __name__ == "__main__":
    print(my_cached_task(1))
    print(my_cached_task(1, debug=True)) # still uses the cache
