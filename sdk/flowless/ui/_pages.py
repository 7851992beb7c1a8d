"""The UI's routes: a path and query in, a status and an HTML page out.

Kept apart from the HTTP server so the pages can be made without a socket (the report,
tests), and so every error a person can meet (an unknown run, an ambiguous prefix, a
bad filter, a corrupt record, a store that cannot be read) becomes a page that says
what is wrong instead of a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from flowless.cli._flow_run import parse_state
from flowless.exceptions import CorruptRecordError, FlowlessException, RecordNotFoundError
from flowless.results import Results
from flowless.states import StateType
from flowless.store import Store, TaskRunRecord
from flowless.ui._render import render
from flowless.ui._view import TaskRunNotFoundError, read_run_page, read_runs, read_task_run

__all__ = ["Pages", "report_html"]

#: How often a page of a run that may still change reloads itself, in seconds.
REFRESH_SECONDS = 2
#: Runs shown in the list unless asked for more, and the most it shows.
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def run_href(flow_run_id: str) -> str:
    return f"/runs/{quote(flow_run_id, safe='')}"


def task_href(flow_run_id: str, task_run_id: str) -> str:
    return f"{run_href(flow_run_id)}/tasks/{quote(task_run_id, safe='')}"


def runs_href(state: StateType | None, flow: str | None, limit: int) -> str:
    query = {"state": state.value if state else "", "flow": flow or ""}
    if limit != DEFAULT_LIMIT:
        query["limit"] = str(limit)
    return "/?" + urlencode({k: v for k, v in query.items() if v})


def _report_task_href(flow_run_id: str, task_run_id: str) -> str:
    return f"#task-{task_run_id}"


class Pages:
    """Every page the UI serves, over one store."""

    def __init__(
        self,
        opened: tuple[Store, Results] | None,
        reopen: Callable[[], tuple[Store, Results] | None] | None = None,
        location: str = "",
    ) -> None:
        """``opened``: the store and results to read; None while nothing has run yet
        (``reopen`` is then asked again at each request, so the UI can be started first)."""
        self.opened = opened
        self.reopen = reopen
        self.location = opened[0].location if opened else location
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        return self._opened()[0]

    @property
    def results(self) -> Results:
        return self._opened()[1]

    def _opened(self) -> tuple[Store, Results]:
        with self._lock:
            if self.opened is None and self.reopen is not None:
                self.opened = self.reopen()
            if self.opened is None:
                raise _NothingYet(f"Nothing has run here yet: no runs in {self.location}.")
            return self.opened

    def close(self) -> None:
        if self.opened is not None:
            self.opened[0].close()

    def get(self, path: str, query: str = "") -> tuple[int, str]:
        """The page at ``path`` (as the request has it: percent-encoded) and ``query``."""
        try:
            return 200, self._route(path, parse_qs(query))
        except _NothingYet as exc:  # the page reloads itself until the first run is there
            status = 200 if path.rstrip("/") in ("", "/") else 404
            return status, self._error("No flow runs yet", str(exc), refresh=True)
        except _NotFound as exc:
            return 404, self._error("Not found", str(exc))
        except TaskRunNotFoundError as exc:
            return 404, self._error("No such task run", str(exc))
        except RecordNotFoundError as exc:  # an ambiguous prefix too: it names the runs
            return 404, self._error("No such run", str(exc))
        except _BadRequest as exc:
            return 400, self._error("Cannot show this page", str(exc))
        except CorruptRecordError as exc:
            return 500, self._error("Cannot show this page", str(exc))
        except FlowlessException as exc:
            return 503, self._error("The store cannot be read", str(exc))

    def _route(self, path: str, query: dict[str, list[str]]) -> str:
        # Split first, then decode each part: a run name may hold a space or a slash.
        parts = [unquote(part) for part in path.split("/") if part]
        if not parts:
            return self.runs(query)
        if parts[0] == "runs" and len(parts) == 2:
            return self.run(parts[1])
        if parts[0] == "runs" and len(parts) == 4 and parts[2] == "tasks":
            return self.task_run(parts[1], parts[3])
        raise _NotFound(f"There is no page at {unquote(path)!r}.")

    def _common(self, refresh: bool) -> dict[str, Any]:
        return {
            "location": self.location,
            "refresh": REFRESH_SECONDS if refresh else None,
            "report": False,
            "run_href": run_href,
            "task_href": task_href,
            "subflow_href": lambda task: run_href(task.child_flow_run_id),
        }

    def runs(self, query: dict[str, list[str]]) -> str:
        """The runs list. It does not reload itself (a run Scheduled for next week would
        keep it reloading, and a reload empties the flow box as one types in it)."""
        try:
            state = parse_state(_one(query, "state") or None)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        flow = _one(query, "flow") or None
        limit = _limit(_one(query, "limit"))
        page = read_runs(self.store, state, flow, limit)
        return render(
            "runs.html",
            page=page,
            states=list(StateType),
            max_limit=MAX_LIMIT,
            runs_href=runs_href,
            **self._common(False),
        )

    def run(self, ref: str) -> str:
        page = read_run_page(self.store, self.results, ref)
        return render("run.html", page=page, **self._common(page.live))

    def task_run(self, ref: str, task_run_id: str) -> str:
        page = read_task_run(self.store, self.results, ref, task_run_id)
        return render("task_run.html", page=page, **self._common(page.live))

    def _error(self, title: str, message: str, refresh: bool = False) -> str:
        return render("error.html", title=title, message=message, **self._common(refresh))


class _NotFound(LookupError):
    pass


class _NothingYet(LookupError):
    pass


class _BadRequest(ValueError):
    """A query a person can correct (the message says how)."""


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[-1].strip() if values else ""


def _limit(text: str) -> int:
    if not text:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise _BadRequest(f"limit must be a whole number of runs, not {text!r}.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _BadRequest(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.")
    return limit


def report_html(store: Store, results: Results, ref: str) -> str:
    """The run page of ``ref`` as one self-contained file: its CSS inside, no script, no
    address outside it; each task run's page is a section of it that its bar opens."""
    page = read_run_page(store, results, ref, everything=True)

    def subflow_href(task: TaskRunRecord) -> str:
        return _report_task_href(page.run.id, task.id)

    return render(
        "run.html",
        page=page,
        location=store.location,
        refresh=None,
        report=True,
        made=time.time(),
        run_href=lambda flow_run_id: "#",
        task_href=_report_task_href,
        subflow_href=subflow_href,
    )
