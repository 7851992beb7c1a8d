# Prefect example: refresh_cache=True recomputes and overwrites a cached value
from flowless import flow, task
from flowless.cache_policies import INPUTS

version = {"n": 0}


@task(cache_policy=INPUTS)
def load_config(name: str) -> str:
    version["n"] += 1
    return f"{name}-v{version['n']}"


@flow
def refresh_flow() -> None:
    print(load_config("app"))
    print(load_config("app"))
    print(load_config.with_options(refresh_cache=True)("app"))
    print(load_config("app"))


if __name__ == "__main__":
    refresh_flow()
    print(f"computed {version['n']} times")
