# Prefect example: typed flow parameters are validated and coerced by pydantic
from datetime import date

from pydantic import BaseModel

from flowless import flow


class Config(BaseModel):
    name: str
    retries: int = 1


@flow
def typed_flow(n: int, ratio: float = 0.5, when: date | None = None) -> str:
    print(f"n={n!r} {type(n)}")
    print(f"ratio={ratio!r} {type(ratio)}")
    print(f"when={when!r}")
    return f"{n * ratio}"


@flow
def model_flow(config: Config) -> str:
    print(f"config={config!r}")
    return config.name


if __name__ == "__main__":
    print(typed_flow("3"))
    print(typed_flow(n=4, ratio="2", when="2024-01-31"))
    print(model_flow({"name": "nightly", "retries": "5"}))
    try:
        typed_flow("not a number")
    except Exception as exc:
        print(f"bad parameter raised {type(exc).__name__}")
