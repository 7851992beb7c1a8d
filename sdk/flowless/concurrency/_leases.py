"""Keeping leases alive while their holders run: one daemon thread per process.

A lease is renewed when half its duration has passed, so a holder that runs longer than
``lease_duration`` keeps its slots, and a holder that dies (SIGKILL, a Lambda timeout)
stops renewing and loses them within one duration. A renewal that finds its lease gone
(the process stalled past the expiry and someone reclaimed the slots) warns: the slots
may now be over-allocated, which is Prefect's behaviour too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from flowless.concurrency._acquire import Acquired, renew
from flowless.exceptions import StoreError
from flowless.store._limits import LimitStore

__all__ = ["keep", "stop_keeping"]

_logger = logging.getLogger("flowless.concurrency")


@dataclass
class _Kept:
    limits: LimitStore
    acquired: Acquired
    duration: float
    due: float


_kept: dict[str, _Kept] = {}
_lock = threading.Condition()
_thread: threading.Thread | None = None


def keep(limits: LimitStore, acquired: Acquired, duration: float) -> None:
    """Renew ``acquired``'s lease every ``duration / 2`` until ``stop_keeping``."""
    global _thread
    if acquired.lease_id is None or not acquired.names:
        return
    with _lock:
        _kept[acquired.lease_id] = _Kept(
            limits, acquired, duration, time.monotonic() + duration / 2
        )
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="flowless-leases", daemon=True)
            _thread.start()
        _lock.notify()


def stop_keeping(acquired: Acquired) -> None:
    if acquired.lease_id is None:
        return
    with _lock:
        _kept.pop(acquired.lease_id, None)


def _run() -> None:
    while True:
        with _lock:
            now = time.monotonic()
            due = [k for k in _kept.values() if k.due <= now]
            if not due:
                wait = min((k.due for k in _kept.values()), default=now + 60) - now
                _lock.wait(timeout=max(wait, 0.001))
                continue
            for k in due:
                k.due = now + k.duration / 2
        for k in due:
            _renew(k)


def _renew(kept: _Kept) -> None:
    try:
        lost = renew(kept.limits, kept.acquired, kept.duration)
    except StoreError as exc:
        _logger.warning("Could not renew a concurrency lease (will retry): %s", exc)
        with _lock:
            kept.due = time.monotonic() + min(1.0, kept.duration / 10)
        return
    with _lock:
        still_kept = kept.acquired.lease_id in _kept
    if lost and still_kept:  # not merely released between picking it and renewing it
        _logger.warning(
            "Concurrency lease renewal failed - slots are no longer reserved on %r. Execution "
            "will continue, but concurrency limits may be exceeded.",
            lost,
        )
        with _lock:
            _kept.pop(kept.acquired.lease_id or "", None)


def _forget_after_fork() -> None:
    """A forked child holds none of its parent's leases (renewing them would keep a dead
    parent's slots alive), and the parent's lock or thread may be mid-use."""
    global _lock, _thread
    _kept.clear()
    _lock = threading.Condition()
    _thread = None


os.register_at_fork(after_in_child=_forget_after_fork)
