# Prefect example: the async rate_limit used outside any flow, in plain asyncio code (docs/v3/how-to-guides/workflows/global-concurrency-limits.mdx)
import asyncio
from flowless.concurrency.asyncio import rate_limit


async def main():
    for _ in range(10):
        await rate_limit("rate-limited-api")
        print("Making an HTTP request...")


if __name__ == "__main__":
    asyncio.run(main())
