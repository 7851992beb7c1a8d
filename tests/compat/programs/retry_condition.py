# Prefect example: retry_condition_fn decides which failures are worth retrying
from flowless import flow, task

calls = {"transient": 0, "fatal": 0}


class TransientError(Exception):
    pass


def retry_on_transient(task, task_run, state) -> bool:
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


@task(retries=3, retry_delay_seconds=0, retry_condition_fn=retry_on_transient)
def do_work(kind: str) -> str:
    calls[kind] += 1
    if kind == "transient" and calls[kind] < 3:
        raise TransientError("try again")
    if kind == "fatal":
        raise KeyError("missing")
    return f"{kind} done"


@flow
def condition_flow() -> None:
    print(do_work("transient"))
    state = do_work("fatal", return_state=True)
    print(f"fatal task: {state.name}, is_failed={state.is_failed()}")


if __name__ == "__main__":
    condition_flow()
    print(f"calls: {calls}")
