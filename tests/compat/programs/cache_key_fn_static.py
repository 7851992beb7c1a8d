# Prefect example: a cache_key_fn returning a constant makes every call share one cached result (docs/v3/concepts/caching.mdx "Cache key functions")
from flowless import task

def static_cache_key(context, parameters):
    # return a constant
    return "static cache key"


@task(cache_key_fn=static_cache_key)
def my_cached_task(x: int):
    return x + 1


if __name__ == "__main__":
    print(my_cached_task(1))
    print(my_cached_task(2))
    print(my_cached_task(1, return_state=True))
