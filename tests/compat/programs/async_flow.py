# Prefect example: an async flow awaiting async tasks, submitting them, and gathering results
import asyncio

from flowless import flow, task


@task
async def fetch(item: str) -> str:
    await asyncio.sleep(0.01)
    return item.upper()


@task
async def combine(parts: list[str]) -> str:
    return "-".join(parts)


@task
def sync_length(text: str) -> int:
    return len(text)


@flow
async def async_pipeline(items: list[str]) -> str:
    first = await fetch(items[0])
    print(f"awaited: {first}")
    gathered = await asyncio.gather(*[fetch(item) for item in items])
    print(f"gathered: {gathered}")
    futures = [fetch.submit(item) for item in items]
    submitted = [future.result() for future in futures]
    print(f"submitted: {submitted}")
    joined = await combine(submitted)
    print(f"length: {sync_length(joined)}")
    return joined


if __name__ == "__main__":
    print(f"result: {asyncio.run(async_pipeline(['a', 'b', 'c']))}")
