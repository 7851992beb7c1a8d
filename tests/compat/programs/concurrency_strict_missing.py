# Prefect example: concurrency(..., strict=True) fails the task when the limit does not exist (docs/v3/how-to-guides/workflows/global-concurrency-limits.mdx "Using strict mode"; no limit is created)
from flowless import flow, task
from flowless.concurrency.sync import concurrency


@task
def process_critical_data(x, y):
    # strict=True ensures this task fails fast if concurrency can't be enforced
    with concurrency("database", occupy=1, strict=True):
        return x + y


@flow
def critical_flow():
    process_critical_data(1, 2)


if __name__ == "__main__":
    state = critical_flow(return_state=True)
    print(state)
