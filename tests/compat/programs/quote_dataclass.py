# Prefect example: quote passes a dataclass to a task unchanged, without resolving or rebuilding it (docs/v3/concepts/tasks.mdx)
from dataclasses import dataclass
from flowless import flow, task
from flowless.utilities.annotations import quote


@dataclass
class Pipeline:
    base_rate: float
    adjusted_rate: float = 0.0

    def __post_init__(self):
        self.adjusted_rate = self.base_rate * 1.5


@task(log_prints=True)
def run_pipeline(pipeline: Pipeline):
    print(f"adjusted_rate = {pipeline.adjusted_rate}")


@flow(log_prints=True)
def my_flow():
    pipeline = Pipeline(base_rate=100.0)
    run_pipeline(quote(pipeline))


if __name__ == "__main__":
    my_flow()
