# Prefect example: tasks sharing a global concurrency limit, and a rate limit pacing a loop
import time

from flowless import flow, task
from flowless.concurrency.sync import concurrency, rate_limit


@task
def square(n: int) -> int:
    with concurrency("database", occupy=1):
        time.sleep(0.1)
        return n * n


@flow
def limited(numbers: list[int]) -> list[int]:
    start = time.monotonic()
    for _ in range(4):
        rate_limit("paced")  # 1 slot at once, 2 per second after that
    print(f"4 rate-limited calls took at least a second: {time.monotonic() - start >= 1.0}")
    return square.map(numbers).result()


if __name__ == "__main__":
    print(limited([1, 2, 3]))
