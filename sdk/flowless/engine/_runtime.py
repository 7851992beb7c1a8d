"""Wiring: the store, results, and invoker a run uses, chosen from the settings.

Built once per ``FLOWLESS_HOME`` and reused, so opening the database is paid once per
process, not once per flow run.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from flowless.engine._task_run import TaskRunExecutor
from flowless.invoke import Invoker, LocalInvoker
from flowless.logging._console import setup_console_logging
from flowless.results import LocalFileStorage, Results
from flowless.settings import Settings, current_settings
from flowless.store import SQLiteStore, Store

__all__ = ["Runtime", "close_home", "current_runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    store: Store
    results: Results
    invoker: Invoker


_stores: dict[Path, Store] = {}
_runtimes: dict[Settings, Runtime] = {}
_lock = threading.Lock()


def current_runtime() -> Runtime:
    settings = current_settings()
    setup_console_logging(settings.logging_level)
    runtime = _runtimes.get(settings)
    if runtime is not None:
        return runtime
    with _lock:
        store = _stores.get(settings.home)
        if store is None:
            store = _stores[settings.home] = SQLiteStore(settings.home / "flowless.db")
        results = Results(
            LocalFileStorage(settings.home / "results"), settings.results_inline_max_bytes
        )
        runtime = Runtime(settings, store, results, LocalInvoker(TaskRunExecutor(store, results)))
        _runtimes[settings] = runtime
    return runtime


def close_home(home: Path) -> None:
    """Close the store of one ``FLOWLESS_HOME`` and forget it (tests, harnesses)."""
    with _lock:
        store = _stores.pop(Path(home), None)
        for settings in [s for s in _runtimes if s.home == Path(home)]:
            del _runtimes[settings]
    if store is not None:
        store.close()


#: Stores inherited by a forked child: kept referenced and never closed, because closing
#: a connection opened by the parent could disturb the parent's use of the database.
_inherited: list[Store] = []


def _forget_after_fork() -> None:
    """A forked child must not touch its parent's connection, lock, or committer thread
    (which does not exist in the child): it opens a store of its own on first use."""
    global _lock
    _inherited.extend(_stores.values())
    _stores.clear()
    _runtimes.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _close_stores() -> None:
    for store in _stores.values():
        store.close()
    _stores.clear()
    _runtimes.clear()
