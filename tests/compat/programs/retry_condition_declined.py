# Prefect example: retry_condition_fn returns False for an httpx.ConnectError, so the task is not retried (docs/v3/how-to-guides/workflows/retries.mdx; the URL is a closed local port so the request fails at once without network)
import httpx
from flowless import flow, task


def retry_handler(task, task_run, state) -> bool:
    """
    Retry handler that skips retries if the HTTP status code is 401 or 404.
    """
    try:
        state.result()
    except httpx.HTTPStatusError as exc:
        do_not_retry_on_these_codes = [401, 404]
        return exc.response.status_code not in do_not_retry_on_these_codes
    except httpx.ConnectError:
        return False
    except:
        return True


@task(retries=1, retry_condition_fn=retry_handler)
def api_call_task(url):
    response = httpx.get(url)
    response.raise_for_status()
    return response.json()


@flow
def my_workflow(url):
    api_call_task(url=url)


if __name__ == "__main__":
    state = my_workflow(url="http://127.0.0.1:9", return_state=True)
    print(state.name, state.type)
    try:
        state.result()
    except httpx.ConnectError as exc:
        print(f"raised {type(exc).__name__}")
