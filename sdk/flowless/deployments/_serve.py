"""``serve``: the local scheduler on the embedded store (Prefect's ``flow.serve()``).

A long-running process that registers its deployments in the store, then every tick:

1. records each schedule slot whose nominal time has come since the last tick as one
   Scheduled flow run (``DeploymentService.fire_slot``: the id comes from the slot, so
   two ``serve`` processes on one ``FLOWLESS_HOME`` make one run per slot);
2. starts the Scheduled runs of its deployments that are due: slot runs, and the runs
   ``run_deployment`` / ``flowless deployment run`` created. Starting claims the run with
   a version-conditional update, so of two processes only one runs it.

Slots before the process started are not run (as Prefect's ``serve``): a laptop that
was asleep does not replay a night of slots. Runs run in threads of this process, since
the flows are already imported here. Ctrl-C (or SIGTERM) stops firing and waits for the
runs in progress; a second one leaves them (each can be continued with
``resume_flow_run``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

from flowless.deployments._definition import DeploymentDefinition
from flowless.deployments._execute import execute
from flowless.deployments._service import DeploymentService
from flowless.exceptions import ConfigurationError, FlowlessException
from flowless.store import CorruptRecord

if TYPE_CHECKING:
    from flowless.flows import Flow

__all__ = ["Runner", "serve_flow"]

_LOGGER = logging.getLogger("flowless.serve")


#: The longest stretch of missed slots a tick fires: more means the process was suspended.
CATCH_UP = 60.0


def _stop_on_sigterm() -> tuple[bool, Any]:
    """SIGTERM (``kill``, ``docker stop``, systemd) stops serve as Ctrl-C does: a process
    started in the background ignores SIGINT. Only the main thread can set handlers; the
    previous handler is returned for ``run`` to put back."""
    if threading.current_thread() is not threading.main_thread():
        return False, None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return True, signal.signal(signal.SIGTERM, interrupt)


def _now() -> float:
    """The scheduler's clock (a test may replace it to reach a slot at once)."""
    return time.time()


class Runner:
    """Serves ``deployments`` (each with its imported flow) until ``stop()`` or Ctrl-C."""

    def __init__(
        self,
        deployments: Sequence[tuple[DeploymentDefinition, Flow[..., Any]]],
        *,
        tick: float = 1.0,
        limit: int | None = None,
        clock: Callable[[], float] | None = None,
        out: TextIO | None = None,
    ) -> None:
        from flowless.engine import current_runtime
        from flowless.store import SQLiteStore

        if not deployments:
            raise ConfigurationError("serve needs at least one deployment.")
        names = [d.full_name for d, _ in deployments]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigurationError(f"serve got deployment(s) twice: {', '.join(duplicates)}.")
        runtime = current_runtime()
        store = runtime.store
        if not isinstance(store, SQLiteStore):
            raise ConfigurationError(
                "serve runs on the embedded store; with FLOWLESS_BACKEND=aws the stack's "
                "EventBridge schedules and the flow-run function do its work (flowless build, "
                "sam deploy)."
            )
        self.store = store
        self.limits = runtime.limits
        self.flows = {d.full_name: f for d, f in deployments}
        self.service = DeploymentService([d for d, _ in deployments], store, runtime.results, store)
        self.tick = tick
        self.limit = limit
        self.clock = clock or _now
        self.out = out if out is not None else sys.stdout
        self._stop = threading.Event()
        self._running: dict[str, threading.Thread] = {}
        self._last: float | None = None
        #: Slots a store error kept from being recorded: retried at the next tick.
        self._unrecorded: list[tuple[DeploymentDefinition, str, datetime]] = []

    # -- the loop ------------------------------------------------------------------------

    def register(self) -> None:
        for definition in self.service.definitions.values():
            self.store.register_deployment(definition.full_name, definition.to_json())

    def run(self) -> None:
        self.register()
        self._announce()
        installed, previous = _stop_on_sigterm()
        try:
            while not self._stop.is_set():
                self.step()
                self._stop.wait(self.tick)
        except KeyboardInterrupt:
            self._interrupted()
            return
        finally:
            if installed:  # None: a handler set from C; the default is what Python had
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        self.wait_for_runs()

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> None:
        """One tick: fire the slots that came due, start the runs that are due."""
        now = self.clock()
        since = self._last if self._last is not None else now
        self._last = now
        self.fire(since, now)
        try:
            self.start_due(now)
        except FlowlessException as exc:  # the store failed for a moment: the next tick
            _LOGGER.error("Could not start due flow runs (will retry): %s", exc)

    def fire(self, since: float, until: float) -> None:
        """Record every slot with ``since < nominal <= until``, and again those a store
        error kept from being recorded before. A window longer than ``CATCH_UP`` (the
        process was suspended: a laptop asleep) fires only its last ``CATCH_UP`` seconds
        and says how many slots it left out."""
        from flowless.schedules import fire_times, slug_of

        start = datetime.fromtimestamp(since, tz=timezone.utc)
        end = datetime.fromtimestamp(until, tz=timezone.utc)
        late = max(start, end - timedelta(seconds=CATCH_UP))
        retry, self._unrecorded = self._unrecorded, []
        stale = [entry for entry in retry if entry[2] <= end - timedelta(seconds=CATCH_UP)]
        if stale:
            _LOGGER.warning(
                "Left out %d slot(s) the store could not record for more than %g s.",
                len(stale),
                CATCH_UP,
            )
        for definition, slug, nominal in retry:
            if nominal > end - timedelta(seconds=CATCH_UP):
                self._fire_one(definition, slug, nominal)
        for definition in self.service.definitions.values():
            for schedule in definition.schedules:
                slug = slug_of(schedule)
                # fire_times is [start, end): shifted by a microsecond, (since, until].
                if late > start:
                    missed = sum(1 for _ in fire_times(schedule, start + _EPSILON, late + _EPSILON))
                    if missed:
                        _LOGGER.warning(
                            "Left out %d slot(s) of %r, schedule %r, between %s and %s: serve "
                            "was not running then (it fires what is due, it does not catch up).",
                            missed,
                            definition.full_name,
                            slug,
                            start.isoformat(timespec="seconds"),
                            late.isoformat(timespec="seconds"),
                        )
                for nominal in fire_times(schedule, late + _EPSILON, end + _EPSILON):
                    self._fire_one(definition, slug, nominal)

    def _fire_one(self, definition: DeploymentDefinition, slug: str, nominal: datetime) -> None:
        try:
            record, created = self.service.fire_slot(definition.full_name, slug, nominal)
        except FlowlessException as exc:
            _LOGGER.error(
                "Could not record the %s slot of %r (will retry at the next tick): %s",
                nominal,
                slug,
                exc,
            )
            self._unrecorded.append((definition, slug, nominal))
            return
        if created and record.state_name == "Skipped":
            _LOGGER.info("%s", record.state_message)

    def start_due(self, now: float) -> None:
        self._reap()
        for record in self.store.due_flow_runs(now, list(self.flows)):
            if isinstance(record, CorruptRecord):
                _LOGGER.error("Skipping a due flow run: %s", record.describe())
                continue
            if record.id in self._running or record.deployment_name not in self.flows:
                continue
            if self.limit is not None and len(self._running) >= self.limit:
                return
            thread = threading.Thread(
                target=self._execute,
                args=(record.deployment_name, record.id),
                name=f"flowless-serve-{record.name}",
                daemon=True,
            )
            self._running[record.id] = thread
            thread.start()

    def _execute(self, deployment: str, flow_run_id: str) -> None:
        try:
            execute(
                self.service.get(deployment),
                self.flows[deployment],
                flow_run_id,
                self.store,
                self.limits,
            )
        except Exception:
            _LOGGER.exception("Flow run %s of %r could not run", flow_run_id, deployment)

    def _reap(self) -> None:
        for run_id, thread in list(self._running.items()):
            if not thread.is_alive():
                del self._running[run_id]

    def wait_for_runs(self, timeout: float | None = None) -> None:
        for thread in list(self._running.values()):
            thread.join(timeout)
        self._reap()

    # -- what the person at the terminal sees --------------------------------------------

    def _announce(self) -> None:
        names = sorted(self.flows)
        print(
            f"Serving {len(names)} deployment(s) on {self.store.location}: {', '.join(names)}.",
            file=self.out,
        )
        print("To trigger a run of one, use the following command:", file=self.out)
        print(f"    $ flowless deployment run '{names[0]}'", file=self.out)
        print("Ctrl-C stops serving.", file=self.out, flush=True)

    def _running_names(self) -> list[str]:
        self._reap()
        return [f"{t.name.removeprefix('flowless-serve-')} ({i})" for i, t in self._running.items()]

    def _interrupted(self) -> None:
        running = self._running_names()
        if not running:
            print("Stopped serving; no flow run was running.", file=self.out, flush=True)
            return
        print(
            f"Stopping: no new runs start. Waiting for {len(running)} flow run(s) to finish: "
            f"{', '.join(running)}. Ctrl-C again to leave them.",
            file=self.out,
            flush=True,
        )
        try:
            self.wait_for_runs()
        except KeyboardInterrupt:
            left = self._running_names()
            print(
                f"Left {len(left)} flow run(s) unfinished: {', '.join(left)}. Continue one "
                "with resume_flow_run(flow, id).",
                file=self.out,
                flush=True,
            )
            return
        print("Stopped serving; every flow run finished.", file=self.out, flush=True)


_EPSILON = timedelta(microseconds=1)


def serve_flow(
    flow: Flow[..., Any],
    *,
    name: str,
    interval: Any = None,
    cron: str | Iterable[str] | None = None,
    paused: bool = False,
    schedules: Sequence[Any] = (),
    global_limit: int | None = None,
    parameters: dict[str, Any] | None = None,
    description: str | None = None,
    tags: tuple[str, ...] = (),
    limit: int | None = None,
    quiet: bool = False,
    tick: float = 1.0,
    clock: Callable[[], float] | None = None,
) -> Runner:
    """``Flow.serve``: build the definition, then serve it (returns once stopped)."""
    from flowless.deployments._definition import definition_from_flow
    from flowless.schedules import Cron, Interval

    wanted: list[Cron | Interval] = []
    for item in [cron] if isinstance(cron, str) else list(cron or ()):
        wanted.append(Cron(item))
    intervals = interval if isinstance(interval, (list, tuple)) else [interval]
    wanted.extend(Interval(i) for i in intervals if i is not None)
    for item in schedules:
        if not isinstance(item, (Cron, Interval)):
            raise ConfigurationError(
                f"schedules must be flowless.schedules.Cron or Interval, got {item!r}."
            )
        wanted.append(item)
    definition = definition_from_flow(
        flow,
        name=name,
        description=description,
        tags=tags,
        parameters=parameters,
        paused=paused,
        concurrency_limit=global_limit,
        schedules=tuple(wanted),
    )
    runner = Runner(
        [(definition, flow)],
        tick=tick,
        limit=limit,
        clock=clock,
        out=open(os.devnull, "w") if quiet else None,  # noqa: SIM115 - lives with the runner
    )
    runner.run()
    return runner
