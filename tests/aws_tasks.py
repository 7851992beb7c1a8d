"""Tasks and flows that the Lambda handlers import by reference in the AWS tests."""

from __future__ import annotations

import threading

from flowless import flow, task


@task
def add(a: int, b: int) -> int:
    return a + b


@task(retries=2)
def flaky_once(marker: list[int]) -> str:
    marker.append(1)
    if len(marker) == 1:
        raise RuntimeError("first attempt fails")
    return "ok"


@task
def boom() -> None:
    raise KeyError("missing thing")


@task
def unserializable() -> threading.Lock:
    return threading.Lock()


@task
def big(n: int) -> str:
    return "x" * n


@flow
def sum_flow(n: int) -> int:
    return sum(add(i, i) for i in range(n))


@task
def length(text: str) -> int:
    return len(text)
