"""Flows for the end-to-end tests: packaged with the local cloud's functions (a code path
of theirs, like ``examples/``), and imported by the tests under the same module name, so
the task references the flow side sends are the ones the task-run function imports."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from flowless import flow, get_run_logger, task
from flowless.cache_policies import INPUTS

#: Attempts per key, in this process. Retries run inside one task-run invocation, so
#: the count of one call's attempts lives in the worker that runs it.
_attempts: dict[str, int] = {}


@task(retries=3, retry_delay_seconds=0)
def flaky(key: str, failures: int) -> str:
    """Fails ``failures`` times for ``key``, then succeeds."""
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] <= failures:
        raise ConnectionError(f"attempt {_attempts[key]} of {key} failed")
    return f"{key} after {_attempts[key]} attempts"


@flow
def retrying(key: str, failures: int) -> str:
    return flaky(key, failures)


@task
def square(x: int) -> int:
    return x * x


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow
def fan_out(n: int) -> int:
    """``n`` task runs at once (``.map``: ``n`` concurrent invocations), then one more."""
    return total(square.map(range(n)).result())


@task(cache_policy=INPUTS, cache_expiration=timedelta(hours=1))
def expensive(token: str) -> dict[str, str]:
    """Cached by its input; ``pid`` shows which process computed it."""
    return {"token": token, "pid": str(os.getpid())}


@flow
def cached_twice(token: str) -> list[dict[str, str]]:
    """The same cached call twice in one run: the second is a cache hit."""
    return [expensive(token), expensive(token)]


@task
def fail_with(message: str) -> None:
    raise ValueError(message)


@task
def ok(x: int) -> int:
    return x


@flow
def failing(message: str) -> int:
    """One task succeeds, the next raises: the flow run fails with the task's error."""
    ok(1)
    fail_with(message)
    return 2


@task
def big_text(n: int, char: str) -> str:
    """A result of ``n`` characters: above ~100 KB it travels through S3."""
    return char * n


@task
def length(text: str) -> int:
    return len(text)


@flow
def large_result(n: int, char: str) -> int:
    """The large result is passed on as a parameter too (it travels through S3 again)."""
    return length(big_text(n, char))


@task
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "woke up"


@flow
def sleepy(seconds: float) -> str:
    return nap(seconds)


@flow
def naps(n: int, seconds: float) -> list[str]:
    """``n`` naps at once: more concurrent invocations than a small function allows."""
    return nap.map([seconds] * n).result()


@task
def outer(x: int) -> int:
    """A task that calls a task: on Lambda the inner run happens in this invocation."""
    return square(x) + 1


@flow
def nested(x: int) -> int:
    return outer(x)


@task(tags=["e2e-serial"])
def serial_step(i: int) -> list[float]:
    """Holds its tag's slot for 50 ms; returns when (CLOCK_MONOTONIC: one clock for all
    processes on the machine)."""
    start = time.monotonic()
    time.sleep(0.05)
    return [start, time.monotonic()]


@flow
def serial_fanout(n: int = 4) -> list[list[float]]:
    return serial_step.map(range(n)).result()


@task(log_prints=True)
def chatty(key: str, lines: int) -> str:
    """Logs ``lines`` lines with the run logger, then prints one."""
    logger = get_run_logger()
    for i in range(lines):
        logger.info("%s line %d %s", key, i, "." * 100)
    print(f"{key} printed")
    return key


@flow(log_prints=True)
def talkative(key: str, lines: int = 3) -> str:
    print(f"{key} from the flow")
    return chatty(key, lines)
