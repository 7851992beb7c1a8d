# Prefect example: validate_parameters=False lets an int through to a str parameter (docs/v3/how-to-guides/workflows/pass-inputs.mdx)
from flowless import flow


@flow(validate_parameters=False)
def my_workflow(name: str = "World"):
    return f"Hello, {name}!"


if __name__ == "__main__":
    print(my_workflow(name=1))
