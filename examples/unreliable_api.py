"""The unreliable-API notebook's pipeline: a flaky call made dependable by task retries.

The API call fails half of the time; ``retries=4`` makes the flow finish anyway (it fails
only if five attempts in a row fail, about 3% of runs). Two changes make it demo- and
test-friendly: the retry delay is 0.2 s (``UNRELIABLE_RETRY_DELAY`` overrides it; the
notebook waits 3 s), and ``UNRELIABLE_SEED`` makes the coin flips repeatable.

    UNRELIABLE_SEED=3 python examples/unreliable_api.py ["message"]
"""

import os
import random
import sys
from typing import Any

from flowless import flow, task

RETRY_DELAY_SECONDS = float(os.environ.get("UNRELIABLE_RETRY_DELAY", "0.2"))
# One generator for the whole process: retries run in this process, so a seed fixes the
# sequence of failures and successes across attempts.
_seed = os.environ.get("UNRELIABLE_SEED")
_rng = random.Random(int(_seed)) if _seed else random.Random()


@task(name="Get data from API", retries=4, retry_delay_seconds=RETRY_DELAY_SECONDS)
def call_unreliable_api() -> dict[str, Any]:
    """Fails half of the time, like the notebook's pretend service."""
    choices: list[Any] = [{"data": 42}, "failure"]
    res = _rng.choice(choices)
    if res == "failure":
        raise Exception("Our unreliable service failed")
    return dict(res)  # a copy: augment_data mutates it


@task
def augment_data(data: dict[str, Any], msg: str) -> dict[str, Any]:
    """Adds the message to the record."""
    data["message"] = msg
    return data


@task
def write_results_to_database(data: dict[str, Any]) -> str:
    """Pretends to write the record."""
    print(f"Wrote {data} to database successfully!")
    return "Success!"


@flow
def pipeline(msg: str) -> None:
    """Flow: call the API, augment the data, write it (the notebook's pipeline)."""
    api_result = call_unreliable_api()
    augmented_data = augment_data(data=api_result, msg=msg)
    write_results_to_database(augmented_data)


if __name__ == "__main__":
    pipeline(" ".join(sys.argv[1:]) or "Trying a flow with tasks and retries!")
