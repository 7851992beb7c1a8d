# Prefect example: a flow parameter typed with a pydantic BaseModel is validated - a dict with a wrong field type is rejected (docs/v3/how-to-guides/workflows/pass-inputs.mdx)
from flowless import flow
from pydantic import BaseModel


class Model(BaseModel):
    a: int
    b: str


@flow
def flow_that_validates_parameters(model: Model): ...


if __name__ == "__main__":
    try:
        flow_that_validates_parameters(
            model={"a": "WRONG", "b": "fine"}
        )
    except Exception as exc:
        print(type(exc).__name__)
        print(exc)
    print(flow_that_validates_parameters(model={"a": "1", "b": "fine"}))
