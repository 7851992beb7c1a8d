# Prefect example: the async concurrency context manager in submitted async tasks (docs/v3/how-to-guides/workflows/global-concurrency-limits.mdx)
import asyncio
from flowless import flow, task
from flowless.concurrency.asyncio import concurrency
from flowless.futures import wait


@task
async def process_data(x, y):
    async with concurrency("database", occupy=1):
        return x + y


@flow
def my_flow():
    futures = []
    for x, y in [(1, 2), (2, 3), (3, 4), (4, 5)]:
        futures.append(process_data.submit(x, y))
    wait(futures)


if __name__ == "__main__":
    print(my_flow(return_state=True))
