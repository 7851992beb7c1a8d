"""What is running right now: the current flow run and task run, per thread of control,
and the tags that ``with tags(...)`` blocks add to the runs created in it.

Held in ``contextvars`` so a task submitted to a worker thread (which receives a copy of
the submitter's context) still knows its flow run and its tags, and async code sees the
right run. These objects hold state only; the engine owns what is done with them.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from flowless.exceptions import MissingContextError
from flowless.futures import RunQueue

if TYPE_CHECKING:
    from flowless.flows import Flow
    from flowless.invoke import Invoker
    from flowless.results import Results
    from flowless.settings import Settings
    from flowless.states import State
    from flowless.store import FlowRunRecord, Store, TaskRunRecord
    from flowless.tasks import Task

__all__ = [
    "FlowRunContext",
    "RunContext",
    "TagsContext",
    "TaskRunContext",
    "current_tags",
    "get_run_context",
    "tags",
]

_flow_run: ContextVar[FlowRunContext | None] = ContextVar("flowless_flow_run", default=None)

#: Bumped in a forked child. A flow run belongs to the process that started it: a child
#: inherits the context variables of the thread that forked, but not the run's store
#: connection or threads, so there the inherited flow run is treated as absent.
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def current_flow_run() -> FlowRunContext | None:
    """The flow run of this thread of control, if it belongs to this process."""
    ctx = _flow_run.get()
    return ctx if ctx is not None and ctx.generation == _fork_generation else None


_task_run: ContextVar[TaskRunContext | None] = ContextVar("flowless_task_run", default=None)
#: The run being named right now (its record and parameters), for ``flowless.runtime``
#: inside ``flow_run_name`` / ``task_run_name`` callables, before the run's context exists.
naming: ContextVar[tuple[Any, dict[str, Any]] | None] = ContextVar("flowless_naming", default=None)

#: Whether the run being run persists task results by default: its own ``persist_result``
#: (a flow's or a task's), else the enclosing run's (Prefect's rule). A task without a
#: cache policy then gets Prefect's DEFAULT one, so a repeated call is ``Cached``. Set
#: while a flow run (``_flow_run``) or a task run that says (``_task_run``) runs, read per
#: task call (``_task_call``).
persisting_results: ContextVar[bool] = ContextVar("flowless_persisting_results", default=False)


class FlowRunContext:
    """One flow run in progress: its record, its stores, its task runner, its journal."""

    __var__: ClassVar[ContextVar[FlowRunContext | None]] = _flow_run

    def __init__(
        self,
        flow: Flow[..., Any],
        flow_run: FlowRunRecord,
        parameters: dict[str, Any],
        store: Store,
        results: Results,
        invoker: Invoker,
        settings: Settings,
        logger: logging.LoggerAdapter[logging.Logger],
        log_prints: bool,
    ) -> None:
        self.flow = flow
        self.flow_run = flow_run
        self.parameters = parameters
        self.store = store
        self.results = results
        self.invoker = invoker
        self.settings = settings
        self.logger = logger
        self.log_prints = log_prints
        self.generation = _fork_generation
        #: The flow run this one is a subflow of, when it runs in this process (set by the
        #: engine): ``flowless.runtime`` walks up it (root run, parent's deployment).
        self.parent: FlowRunContext | None = None
        #: Completed calls by (task key, dynamic key), loaded from the journal when an
        #: interrupted run is resumed: the body's calls up to that point return their
        #: recorded states. ``None`` for a fresh run, so the hot path skips it. A *retry*
        #: does not replay: it keeps counting calls, so its calls are new task runs.
        self.replay: dict[tuple[str, int], State[Any]] | None = None
        #: Whether this run's task-run ids are the older all-hash ones (a run stored
        #: before ordered ids, resumed: ``engine._names.task_run_id``).
        self.legacy_ids = False
        #: Every run submitted in this flow run (``.submit``/``.map``), in order.
        self.runs = RunQueue()
        self._counters: dict[str, itertools.count[int]] = {}
        self._executor: ThreadPoolExecutor | None = None
        #: When a task call last looked for a cancel in the store (``time.monotonic``),
        #: and whether it found one (``engine._cancel``): at most one read per 100 ms.
        self.cancel_checked_at = time.monotonic()
        self.cancelling = False
        self._lock = threading.Lock()

    @classmethod
    def get(cls) -> FlowRunContext | None:
        return current_flow_run()

    def next_dynamic_key(self, task_key: str) -> int:
        """n for the n-th call of ``task_key`` in this run (thread-safe, deterministic
        for calls made in order from the flow body)."""
        counter = self._counters.get(task_key)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(task_key, itertools.count())
        return next(counter)

    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    from flowless.task_runners import ThreadPoolTaskRunner

                    runner = self.flow.task_runner or ThreadPoolTaskRunner()
                    self._executor = runner.new_executor(self.settings.task_runner_max_workers)
        return self._executor

    def shutdown(self, wait: bool = True) -> None:
        """Close the task runner; without ``wait``, queued task runs are cancelled."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)
            self._executor = None


class TaskRunContext:
    """One task run in progress, as seen from inside the task function."""

    __slots__ = ("log_prints", "logger", "parameters", "task", "task_run")

    def __init__(
        self,
        task: Task[..., Any],
        task_run: TaskRunRecord,
        parameters: dict[str, Any],
        logger: logging.LoggerAdapter[logging.Logger],
        log_prints: bool,
    ) -> None:
        self.task = task
        self.task_run = task_run
        self.parameters = parameters
        self.logger = logger
        self.log_prints = log_prints

    @classmethod
    def get(cls) -> TaskRunContext | None:
        return _task_run.get()


#: Either run context: Prefect's common base class of the two, here their union, which
#: serves the same purposes (annotations, ``isinstance(ctx, RunContext)``).
RunContext: TypeAlias = FlowRunContext | TaskRunContext


def get_run_context() -> FlowRunContext | TaskRunContext:
    """The innermost run: the task run if inside a task, else the flow run."""
    ctx: FlowRunContext | TaskRunContext | None = _task_run.get() or current_flow_run()
    if ctx is None:
        raise MissingContextError(
            "No run context available. You are not in a flow or task run context."
        )
    return ctx


_tags: ContextVar[frozenset[str]] = ContextVar("flowless_tags", default=frozenset())


def current_tags() -> frozenset[str]:
    """The tags that ``tags(...)`` blocks around this code add to the runs created here.

    The engine reads it once per run it creates (a context variable read), so a task run
    carries its task's tags plus these, and a flow run these alone, as in Prefect."""
    return _tags.get()


class TagsContext:
    """Prefect's ``TagsContext``: ``TagsContext.get().current_tags`` is the set of tags the
    enclosing ``tags(...)`` blocks add. Entering one replaces the current tags for its
    block (``tags`` is the way to *add* to them)."""

    __slots__ = ("_token", "current_tags")

    def __init__(self, current_tags: Iterable[str] = ()) -> None:
        self.current_tags: set[str] = set(current_tags)
        self._token: Token[frozenset[str]] | None = None

    @classmethod
    def get(cls) -> TagsContext:
        """The current tags (an empty set outside any ``tags`` block, never ``None``)."""
        return cls(_tags.get())

    def __enter__(self) -> TagsContext:
        self._token = _tags.set(frozenset(self.current_tags))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _tags.reset(self._token)
            self._token = None


@contextmanager
def tags(*new_tags: str) -> Iterator[set[str]]:
    """Add ``new_tags`` to every flow run and task run created inside the block.

    Blocks nest and union: inside ``with tags("a"): with tags("b"):`` runs get ``a`` and
    ``b``, plus a task's own ``tags=``. Yields the set of tags now in force. The tags are
    context-local (a ``ContextVar``), so a task submitted inside the block keeps them when
    it runs later on a worker thread, and they are gone after the block. Tags count for
    tag concurrency limits (``tag:<name>``) exactly like a task's own tags, as in Prefect.
    """
    now = _tags.get().union(new_tags)
    token = _tags.set(now)
    try:
        yield set(now)
    finally:
        _tags.reset(token)
