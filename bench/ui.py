"""The run UI's speed (``flowless ui``): how long its pages take, served and in a browser.

- run page:  a real run of one flow with ``--tasks`` (500) trivial task runs; the server's
             time to answer ``GET /runs/<id>`` over HTTP (median of 10 after a warm-up),
             and Chromium's, from navigation to the ``load`` event (median of 5), when
             Debian's Chromium is installed (``make browser``; never a downloaded one)
- runs list: ``--runs`` (10,000) flow runs in the embedded store, written through
             ``SQLiteStore.create_flow_run`` (a real flow run each would only time the
             engine); 1 in 500 Failed. Server time of ``/`` (the newest 100),
             ``/?state=FAILED`` (rare: the filter must look past most runs) and
             ``/?limit=1000``
- dynamodb:  the same list over the DynamoDB store, on moto in this process (the table
             made from template.yaml, as the tests make it) within ``--dynamodb-budget``
             (120) seconds: skipped when filling it would take more than half of that
             (moto's put rate is measured first) or moto is not installed; each URL is
             asked at least twice, more while the budget lasts

Every server time is one HTTP GET to ``flowless.ui.make_server`` on 127.0.0.1, page
made and read whole. Targets (issue 11): a run page < 1 s, the runs list < 1 s.
Usage: ``python bench/ui.py [--tasks 500] [--runs 10000] [--no-browser] [--no-dynamodb]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # infra.template (the table's definition), bench.chromium

from bench.chromium import CHROMIUM, launch  # noqa: E402

PAGE_TARGET_S = 1.0
LIST_TARGET_S = 1.0
FAILED_EVERY = 500
FLOWS = ["etl", "report", "sync", "backup", "train"]

BIG_FLOW = """
import sys
from flowless import flow, get_run_logger, task

@task
def noop(i: int) -> int:
    if i % 50 == 0:
        get_run_logger().info("at %d", i)
    return i

@flow(flow_run_name="bench-ui-big")
def big(count: int) -> int:
    return sum(noop(i) for i in range(count))

big(int(sys.argv[1]))
"""


@contextmanager
def serving(opened: Any) -> Iterator[str]:
    """The UI of ``opened`` (a store and its results) on a free port: its base URL."""
    from flowless.ui import Pages
    from flowless.ui._server import serving as serve

    pages = Pages(opened)
    try:
        with serve(pages) as url:
            yield url
    finally:
        pages.close()


def get_seconds(url: str, repeat: int, budget: float = float("inf")) -> tuple[float, int, int]:
    """Median seconds of ``repeat`` GETs after one not counted (fewer once ``budget``
    seconds are spent; the warm-up itself if there was no time for more), the page's
    bytes, and how many GETs the median is of."""

    def once() -> tuple[float, int]:
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=600) as response:
            size = len(response.read())
            assert response.status == 200, (url, response.status)
        return time.perf_counter() - started, size

    started = time.perf_counter()
    first, size = once()
    times: list[float] = []
    while len(times) < repeat and time.perf_counter() - started < budget:
        times.append(once()[0])
    return statistics.median(times or [first]), size, len(times) or 1


def browser_seconds(url: str, repeat: int) -> float:
    """Median seconds from navigation start to the ``load`` event (after a warm-up)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            times = []
            for i in range(repeat + 1):
                page.goto(url, wait_until="load")
                ms = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; }"
                )
                if i:
                    times.append(float(ms) / 1000)
            return statistics.median(times)
        finally:
            browser.close()


def local_results(home: Path) -> Any:
    from flowless.results import LocalFileStorage, Results, local_signer

    return Results(LocalFileStorage(home / "results"), 0, local_signer(home))


def run_page(home: Path, tasks: int, browser: bool) -> list[tuple[str, str, float, str]]:
    from flowless.store import SQLiteStore

    script = home / "big.py"
    script.write_text(BIG_FLOW)
    env = {**os.environ, "FLOWLESS_HOME": str(home), "FLOWLESS_LOGGING_LEVEL": "INFO"}
    subprocess.run(
        [sys.executable, str(script), str(tasks)], env=env, check=True, stderr=subprocess.DEVNULL
    )
    opened = (SQLiteStore.open_read_only(home / "flowless.db"), local_results(home))
    rows = []
    with serving(opened) as base:
        url = f"{base}/runs/bench-ui-big"
        seconds, size, n = get_seconds(url, 10)
        rows.append((f"run page, {tasks} task runs", f"server GET, n={n}", seconds, f"{size:,} B"))
        if browser:
            load = browser_seconds(url, 5)
            rows.append((f"run page, {tasks} task runs", "chromium load, n=5", load, ""))
    return rows


def make_runs(count: int, now: float) -> Iterator[Any]:
    import uuid

    from flowless.states import StateType
    from flowless.store import FlowRunRecord

    for i in range(count):
        failed = i % FAILED_EVERY == FAILED_EVERY - 1
        start = now - (count - i) * 60.0
        yield FlowRunRecord(
            id=str(uuid.uuid4()),
            name=f"bench-run-{i:05d}",
            flow_name=FLOWS[i % len(FLOWS)],
            state_type=StateType.FAILED if failed else StateType.COMPLETED,
            state_name="Failed" if failed else "Completed",
            state_message="Flow run encountered an exception: ValueError: boom" if failed else None,
            created=start,
            start_time=start,
            end_time=start + 1.5,
            run_count=1,
        )


LIST_URLS = [("/", "runs list (newest 100)"), ("/?state=FAILED", "runs list, state=FAILED")]
LIST_URLS.append(("/?limit=1000", "runs list, limit=1000"))


def list_rows(
    base: str, store: str, count: int, budget: float = float("inf")
) -> list[tuple[str, str, float, str]]:
    """One row per runs-list URL; ``budget``: seconds for all of them (split evenly)."""
    rows = []
    for path, what in LIST_URLS:
        seconds, size, n = get_seconds(base + path, 10, budget / len(LIST_URLS))
        rows.append((f"{what}, {count:,} runs", f"{store} GET, n={n}", seconds, f"{size:,} B"))
    return rows


def sqlite_list(home: Path, count: int) -> tuple[list[tuple[str, str, float, str]], float]:
    from flowless.store import SQLiteStore

    started = time.perf_counter()
    store = SQLiteStore(home / "flowless.db")
    try:
        for run in make_runs(count, time.time()):
            store.create_flow_run(run)
        store.flush()
    finally:
        store.close()
    filled = time.perf_counter() - started
    opened = (SQLiteStore.open_read_only(home / "flowless.db"), local_results(home))
    with serving(opened) as base:
        return list_rows(base, "sqlite", count), filled


class QueryCounter:
    """A boto3 client that counts its ``query`` calls and, past ``deadline``, refuses
    them (the page then says the store cannot be read: the bench's time is up)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta
        self.queries = 0
        self.deadline = float("inf")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **kwargs: Any) -> Any:
        from flowless.exceptions import StoreUnavailableError

        if time.perf_counter() > self.deadline:
            raise StoreUnavailableError("the bench's time for this page is up")
        self.queries += 1
        return self._client.query(**kwargs)


def dynamodb_list(
    home: Path, count: int, budget: float
) -> tuple[list[tuple[str, str, float, str]], str]:
    try:
        import boto3
        from infra.template import table_definition
        from moto import mock_aws
    except ImportError as exc:
        return [], f"skipped: {exc.name} is not installed"
    from flowless.store import DynamoDBStore

    began = time.perf_counter()
    with mock_aws():
        client = QueryCounter(
            boto3.client(
                "dynamodb",
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        )
        client.create_table(**table_definition("bench-ui"))
        store = DynamoDBStore("bench-ui", client)
        runs = make_runs(count, time.time())
        probe = min(200, count)
        for _ in range(probe):
            store.create_flow_run(next(runs))
        rate = probe / (time.perf_counter() - began)
        if count / rate > budget / 2:
            return [], (
                f"skipped: filling moto with {count:,} runs would take ~{count / rate:.0f} s "
                f"({rate:.0f} puts/s): more than half of --dynamodb-budget {budget:.0f} s"
            )
        for run in runs:
            store.create_flow_run(run)
        filled = time.perf_counter() - began
        rows = []
        with serving((store, local_results(home))) as base:
            for i, (path, what) in enumerate(LIST_URLS):
                left = budget - (time.perf_counter() - began)
                share = max(left / (len(LIST_URLS) - i), 1.0)
                client.queries = 0
                client.deadline = time.perf_counter() + share
                label = f"{what}, {count:,} runs"
                try:
                    seconds, size, n = get_seconds(base + path, 10, share)
                except urllib.error.HTTPError:
                    rows.append(
                        (
                            label,
                            "moto GET, stopped",
                            share,
                            f"> {share:.0f} s: stopped after {client.queries} queries",
                        )
                    )
                    continue
                per_get = client.queries / (n + 1)
                rows.append(
                    (label, f"moto GET, n={n}", seconds, f"{size:,} B, queries/GET {per_get:.0f}")
                )
        return rows, (
            f"{count:,} runs written in {filled:.1f} s ({rate:.0f} puts/s); each page's GETs "
            f"repeated while a share of the {budget:.0f} s budget lasted (moto runs each query "
            "over the whole index in Python: far slower than DynamoDB, but a page makes the "
            "same number of queries, each one round trip)"
        )


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms" if seconds < 10 else f"{seconds:8.1f} s "


def print_table(rows: list[tuple[str, str, float, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    how = max(len(r[1]) for r in rows)
    print(f"{'page':<{width}}  {'measured':<{how}}  {'median':>11}  {'target':>8}  ok  size")
    for what, measured, seconds, size in rows:
        target = PAGE_TARGET_S if what.startswith("run page") else LIST_TARGET_S
        ok = "yes" if seconds < target else "NO"
        print(
            f"{what:<{width}}  {measured:<{how}}  {_fmt(seconds):>11}  "
            f"{'< ' + format(target, 'g') + ' s':>8}  {ok:<3} {size}"
        )


def timed(label: str, fn: Callable[[], Any]) -> Any:
    print(f"... {label}", file=sys.stderr, flush=True)
    return fn()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500, help="task runs in the run page's run")
    parser.add_argument("--runs", type=int, default=10_000, help="flow runs in the runs list")
    parser.add_argument("--no-browser", action="store_true", help="server times only")
    parser.add_argument("--no-dynamodb", action="store_true", help="skip the moto store")
    parser.add_argument(
        "--dynamodb-budget", type=float, default=120.0, help="seconds for the moto part (about)"
    )
    args = parser.parse_args()
    browser = not args.no_browser and CHROMIUM.exists()
    notes = []
    if not args.no_browser and not CHROMIUM.exists():
        notes.append("chromium: skipped: Debian's chromium is not installed (make browser)")
    rows: list[tuple[str, str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        page_home, list_home, dynamo_home = (Path(tmp) / n for n in ("page", "list", "dynamo"))
        for home in (page_home, list_home, dynamo_home):
            home.mkdir()
        rows += timed("run page", lambda: run_page(page_home, args.tasks, browser))
        listed, filled = timed("runs list (sqlite)", lambda: sqlite_list(list_home, args.runs))
        rows += listed
        notes.append(f"sqlite: {args.runs:,} runs written in {filled:.1f} s")
        if args.no_dynamodb:
            notes.append("dynamodb: skipped (--no-dynamodb)")
        else:
            listed, note = timed(
                "runs list (dynamodb on moto)",
                lambda: dynamodb_list(dynamo_home, args.runs, args.dynamodb_budget),
            )
            rows += listed
            notes.append(f"dynamodb (moto): {note}")
    print(
        f"flowless ui page times (python {sys.version.split()[0]}, {os.cpu_count()} cpus; "
        "server: median of 10 GETs after a warm-up; chromium: median of 5 loads)"
    )
    print_table(rows)
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
