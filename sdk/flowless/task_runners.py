"""Task runners: how a flow run executes ``.submit`` and ``.map`` calls.

One kind exists: a bounded thread pool. Locally the threads run the task functions; on
AWS (later) the same threads each wait on one Lambda invocation, so a thread pool is the
right shape in both places and no process pool or async runner is needed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from flowless.exceptions import ConfigurationError

__all__ = ["ConcurrentTaskRunner", "ThreadPoolTaskRunner", "is_worker_thread", "mark_worker_thread"]

#: Names of the threads that run submitted task runs.
POOL_THREAD_PREFIX = "flowless-task"

_workers = threading.local()


def mark_worker_thread() -> None:
    """This thread holds a slot of a bounded pool: while it waits on a run that has not
    started, it runs that run itself (see ``flowless.futures``)."""
    _workers.marked = True


def is_worker_thread() -> bool:
    return getattr(_workers, "marked", False)


class ThreadPoolTaskRunner:
    """Run submitted tasks on at most ``max_workers`` threads (default: the setting
    ``FLOWLESS_TASK_RUNNER_MAX_WORKERS``, 16)."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise ConfigurationError(
                f"`max_workers` must be a whole number >= 1, got {max_workers!r}."
            )
        self.max_workers = max_workers

    def new_executor(self, default_workers: int) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(
            max_workers=self.max_workers or default_workers,
            thread_name_prefix=POOL_THREAD_PREFIX,
            initializer=mark_worker_thread,
        )

    def duplicate(self) -> ThreadPoolTaskRunner:
        return type(self)(self.max_workers)

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"


#: Prefect 2's name for the same runner.
ConcurrentTaskRunner = ThreadPoolTaskRunner
