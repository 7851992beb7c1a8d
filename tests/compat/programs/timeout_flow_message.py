# Prefect example: a flow with timeout_seconds=1 stops in time.sleep, and calling it raises a timeout error (docs/v3/how-to-guides/workflows/write-and-run.mdx)
from flowless import flow
import time

@flow(timeout_seconds=1, log_prints=True)
def show_timeouts():
    print("I will execute")
    time.sleep(5)
    print("I will not execute")


if __name__ == "__main__":
    try:
        show_timeouts()
    except BaseException as exc:
        print(f"{type(exc).__name__}: {exc}")
