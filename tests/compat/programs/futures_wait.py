# Prefect example: submitting tasks, then wait() and as_completed() on their futures
import time

from flowless import flow, task
from flowless.futures import as_completed, wait
from flowless.task_runners import ThreadPoolTaskRunner


@task
def slow_double(x: int) -> int:
    time.sleep(0.05 * x)
    return x * 2


@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
def futures_flow() -> None:
    futures = [slow_double.submit(x) for x in range(4)]
    done, not_done = wait(futures)
    print(f"wait: {len(done)} done, {len(not_done)} not done")
    print(f"states: {sorted(f.state.name for f in done)}")

    more = [slow_double.submit(x) for x in (5, 6, 7)]
    results = [future.result() for future in as_completed(more)]
    print(f"as_completed results: {sorted(results)}")

    print(f"result of first: {futures[0].result()}")


if __name__ == "__main__":
    futures_flow()
