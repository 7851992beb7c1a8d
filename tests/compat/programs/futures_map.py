# Prefect example: .map with unmapped, futures as arguments, and wait_for
from flowless import flow, task, unmapped

events = []


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def setup() -> None:
    events.append("setup")


@task
def after_setup(label: str) -> str:
    events.append(f"after_setup({label})")
    return label


@flow
def map_flow() -> int:
    scaled = scale.map([1, 2, 3], factor=unmapped(10))
    print(f"mapped results: {scaled.result()}")
    pairs = scale.map([1, 2, 3], [4, 5, 6])
    print(f"zipped results: {[f.result() for f in pairs]}")

    summed = total.submit(scaled)
    print(f"total of futures: {summed.result()}")

    ready = setup.submit()
    labelled = after_setup.submit("report", wait_for=[ready])
    print(f"after wait_for: {labelled.result()}")
    return summed.result()


if __name__ == "__main__":
    print(f"flow result: {map_flow()}")
    print(f"events: {events}")
