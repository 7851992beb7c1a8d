# Prefect example: a parent flow calling subflows and passing results between them
from flowless import flow, task


@task
def extract(n: int) -> list[int]:
    return list(range(1, n + 1))


@task
def square_all(values: list[int]) -> list[int]:
    return [v * v for v in values]


@flow
def extract_flow(n: int) -> list[int]:
    return extract(n)


@flow
def transform_flow(values: list[int]) -> list[int]:
    return square_all(values)


@flow(name="etl-parent")
def parent_flow(n: int = 4) -> int:
    values = extract_flow(n)
    print(f"extracted: {values}")
    squared = transform_flow(values)
    print(f"transformed: {squared}")
    return sum(squared)


if __name__ == "__main__":
    print(f"parent returned: {parent_flow()}")
    print(f"parent returned: {parent_flow(n=2)}")
