# Prefect example: INPUTS + TASK_SOURCE caches per task; NO_CACHE always runs
from flowless import flow, task
from flowless.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE

runs = []


@task(cache_policy=INPUTS + TASK_SOURCE)
def reverse(value: str) -> str:
    runs.append(f"reverse({value})")
    return value[::-1]


@task(cache_policy=INPUTS + TASK_SOURCE)
def shout(value: str) -> str:
    runs.append(f"shout({value})")
    return value.upper()


@task(cache_policy=NO_CACHE)
def uncached(value: str) -> str:
    runs.append(f"uncached({value})")
    return value * 2


@flow
def source_flow() -> list:
    return [reverse("abc"), reverse("abc"), shout("abc"), uncached("ab"), uncached("ab")]


if __name__ == "__main__":
    print(source_flow())
    for entry in runs:
        print(entry)
