"""Firing the local cloud's schedules, as EventBridge Scheduler would.

moto stores schedules (``scheduler.create_schedule``) but never fires them. The ticker
reads them back through the scheduler API, and at each slot of an ENABLED schedule
(``scheduler_times``) sends its target's ``Input`` with ``<aws.scheduler.scheduled-time>``
replaced by the slot's nominal time, as an asynchronous invocation of the target
function: what Scheduler does. ``fire`` sends one slot at once (tests, ``flowless local
fire``), through the same path.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from flowless.localcloud.scheduler_times import scheduler_fire_times

if TYPE_CHECKING:
    from flowless.localcloud.provision import Provisioned

__all__ = ["SCHEDULED_TIME", "ScheduleTicker", "StoredSchedule", "nominal_text"]

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
_LOGGER = logging.getLogger("flowless.localcloud")


def nominal_text(moment: datetime) -> str:
    """Scheduler's form of the nominal time: ``2027-01-04T09:00:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredSchedule:
    name: str
    expression: str
    timezone: str
    enabled: bool
    target_function: str
    input: str
    start: datetime  # StartDate, else when it was created (a rate's phase)

    @classmethod
    def read(cls, scheduler: Any, name: str, group: str) -> StoredSchedule:
        item = scheduler.get_schedule(Name=name, GroupName=group)
        target = item["Target"]
        start = item.get("StartDate") or item.get("CreationDate") or datetime.now(timezone.utc)
        return cls(
            name=name,
            expression=item["ScheduleExpression"],
            timezone=item.get("ScheduleExpressionTimezone") or "UTC",
            enabled=item.get("State", "ENABLED") == "ENABLED",
            target_function=str(target["Arn"]).rsplit(":", 1)[-1],
            input=str(target.get("Input", "{}")),
            start=start if start.tzinfo else start.replace(tzinfo=timezone.utc),
        )


class ScheduleTicker:
    """Fires ``provisioned``'s schedules on time from a thread, until ``stop()``."""

    def __init__(
        self, scheduler: Any, lambda_client: Any, provisioned: Provisioned, tick: float = 1.0
    ) -> None:
        self.scheduler = scheduler
        self.lambda_client = lambda_client
        self.group = provisioned.schedule_group or "default"
        self.tick = tick
        self.fired: list[tuple[str, str]] = []  # (schedule name, nominal time), in order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = time.time()

    def names(self) -> list[str]:
        pages = self.scheduler.get_paginator("list_schedules").paginate(GroupName=self.group)
        return sorted(s["Name"] for page in pages for s in page.get("Schedules", []))

    def schedules(self) -> list[StoredSchedule]:
        return [StoredSchedule.read(self.scheduler, n, self.group) for n in self.names()]

    def start(self) -> ScheduleTicker:
        self._thread = threading.Thread(target=self._run, name="flowless-ticker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            now = time.time()
            since, self._last = self._last, now
            try:
                self.fire_due(since, now)
            except Exception:  # the local cloud keeps ticking; the error is shown
                _LOGGER.exception("The schedule ticker failed")

    def fire_due(self, since: float, until: float) -> None:
        """Fire every slot with ``since < nominal <= until``."""
        start = datetime.fromtimestamp(since, tz=timezone.utc)
        end = datetime.fromtimestamp(until, tz=timezone.utc)
        for schedule in self.schedules():
            if not schedule.enabled:
                continue
            for nominal in scheduler_fire_times(
                schedule.expression, schedule.timezone, start, end, schedule.start
            ):
                if nominal > start:
                    self.send(schedule, nominal)

    def fire(self, name: str, nominal: datetime, wait: bool = False) -> Any:
        """Fire schedule ``name``'s slot at ``nominal`` now, enabled or not (a test's way
        to reach a slot at once). ``wait``: invoke synchronously and return the answer."""
        return self.send(StoredSchedule.read(self.scheduler, name, self.group), nominal, wait)

    def send(self, schedule: StoredSchedule, nominal: datetime, wait: bool = False) -> Any:
        payload = schedule.input.replace(SCHEDULED_TIME, nominal_text(nominal))
        self.fired.append((schedule.name, nominal_text(nominal)))
        response = self.lambda_client.invoke(
            FunctionName=schedule.target_function,
            InvocationType="RequestResponse" if wait else "Event",
            Payload=payload.encode(),
        )
        if not wait:
            return None
        import json

        return response.get("FunctionError"), json.loads(response["Payload"].read() or b"null")
