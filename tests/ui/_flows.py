"""Real flows whose runs the UI's browser tests (and ``bench/``) look at.

Run as a program, in a process of its own whose ``FLOWLESS_HOME`` is the store to fill
(so no engine state is left in the test process):

- ``python -m tests.ui._flows build``: the finished runs, then one JSON line naming them;
- ``python -m tests.ui._flows running RELEASE``: a run that blocks inside a task until the
  file ``RELEASE`` exists (at most ``BLOCK_SECONDS``), then completes;
- ``python -m tests.ui._flows showcase``: the small realistic run of the README's
  screenshot (``bench/screenshot.py``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from flowless import flow, get_run_logger, task
from flowless.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from flowless.cache_policies import INPUTS
from flowless.concurrency.sync import rate_limit

#: Run names, as the tests look them up.
FAILED = "ui-failed"
CACHE_FIRST = "ui-cache-first"
CACHED = "ui-cached"
PARENT = "ui-parent"
CHILD = "ui-child"
ARTIFACTS = "ui-artifacts"
LIMITED = "ui-limited"
BIG = "ui-big"
RUNNING = "ui-running"
SHOWCASE = "nightly-sync"

BIG_TASKS = 500
LIMITED_TASKS = 4
RATE_LIMIT = "ui-rate"
#: The markdown artifact's payload: a script that would set a flag if it ever ran.
SCRIPT = "<script>window.__flowless_pwned = 1</script>"
MARKDOWN = f"# Quarterly report\n\nAll *good*.\n\n## Details\n\n{SCRIPT}\n\nend of report\n"
TABLE = [{"region": "emea", "orders": 1204}, {"region": "apac", "orders": 877}]
LINK = "https://example.com/dashboards/42"
#: How long the running run waits for its release file before it gives up (and fails).
BLOCK_SECONDS = 120.0


@task
def prepare(n: int) -> int:
    get_run_logger().info("prepared %d rows", n)
    return n


@task(retries=2, retry_delay_seconds=0.2)
def flaky_upload(n: int) -> int:
    get_run_logger().info("uploading %d rows", n)
    raise ValueError(f"upload refused: {n} rows is too many")


@flow(flow_run_name=FAILED)
def failing() -> int:
    return flaky_upload(prepare(3))


@task(cache_policy=INPUTS)
def square(x: int) -> int:
    get_run_logger().info("computing %d squared", x)
    return x * x


@flow
def cached_squares() -> int:
    return square(2) + square(3)


@task
def step(label: str) -> str:
    get_run_logger().info("step %s", label)
    return label


@flow(flow_run_name=CHILD)
def child() -> str:
    return step("in the child")


@flow(flow_run_name=PARENT)
def parent() -> str:
    step("before")
    child()
    return step("after")


@task
def publish_progress() -> None:
    artifact = create_progress_artifact(0, key="upload-progress", description="rows uploaded")
    for done in (25, 50, 100):
        update_progress_artifact(artifact, done)


@flow(flow_run_name=ARTIFACTS)
def with_artifacts() -> None:
    create_markdown_artifact(MARKDOWN, key="quarterly-report", description="the summary")
    create_table_artifact(TABLE, key="orders-by-region")
    create_link_artifact(LINK, "the dashboard", key="dashboard")
    publish_progress()


@task
def limited_call(i: int) -> int:
    rate_limit(RATE_LIMIT)
    return i


@flow(flow_run_name=LIMITED)
def limited() -> None:
    for i in range(LIMITED_TASKS):
        limited_call(i)


@task
def noop(i: int) -> int:
    return i


@flow(flow_run_name=BIG)
def big(count: int = BIG_TASKS) -> int:
    return sum(noop(i) for i in range(count))


@task
def block_until(release: str) -> str:
    get_run_logger().info("waiting for %s", release)
    deadline = time.monotonic() + BLOCK_SECONDS
    while not Path(release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody created {release}")
        time.sleep(0.05)
    get_run_logger().info("released")
    return "released"


@flow(flow_run_name=RUNNING)
def running(release: str) -> str:
    step("started")
    return block_until(release)


def build() -> dict[str, Any]:
    """Every finished run the tests look at; (the running one is started on its own)."""
    from flowless.concurrency import create_limit

    try:
        failing()
    except ValueError:
        pass
    cached_squares.with_options(flow_run_name=CACHE_FIRST)()
    cached_squares.with_options(flow_run_name=CACHED)()
    parent()
    with_artifacts()
    create_limit(RATE_LIMIT, 1, slot_decay_per_second=5)
    limited()
    big()
    return {
        "failed": FAILED,
        "cached": CACHED,
        "parent": PARENT,
        "child": CHILD,
        "artifacts": ARTIFACTS,
        "limited": LIMITED,
        "big": BIG,
    }


# The README's screenshot: a nightly sync of a few sources, one of which keeps failing.


@task(cache_policy=INPUTS)
def fetch_source(source: str) -> list[int]:
    get_run_logger().info("fetched %s", source)
    time.sleep(0.05)
    return [len(source), 2 * len(source)]


@task(retries=2, retry_delay_seconds=0.3)
def load_source(source: str, rows: list[int]) -> int:
    time.sleep(0.08)
    if source == "billing":
        raise ConnectionError("billing API answered 503 Service Unavailable")
    get_run_logger().info("loaded %d rows from %s", len(rows), source)
    return len(rows)


@task
def validate(counts: list[int]) -> int:
    time.sleep(0.05)
    return sum(counts)


@flow(flow_run_name="nightly-sync-notify")
def notify(total: int) -> str:
    return step(f"sent the summary ({total} rows)")


@flow(flow_run_name=SHOWCASE)
def nightly_sync(sources: list[str]) -> int:
    progress = create_progress_artifact(0, key="sources-loaded")
    counts = []
    for done, source in enumerate(sources, 1):
        rows = fetch_source(source)
        try:
            counts.append(load_source(source, rows))
        except ConnectionError:
            get_run_logger().warning("skipping %s for tonight", source)
        update_progress_artifact(progress, 100 * done / len(sources))
    total = validate(counts)
    create_table_artifact([{"source": s, "loaded": s != "billing"} for s in sources], key="sources")
    create_markdown_artifact(
        f"# Nightly sync\n\n**{total}** rows loaded from {len(counts)} of {len(sources)} "
        "sources.\n\n- `billing` is failing: see its task run.\n",
        key="nightly-summary",
    )
    notify(total)
    return total


SHOWCASE_SOURCES = ["crm", "shop", "billing", "support", "marketing", "inventory"]


def showcase() -> None:
    # A first run fills the cache, so the shown run's fetches are cache hits but one.
    nightly_sync.with_options(flow_run_name="nightly-sync-yesterday")(SHOWCASE_SOURCES[:-1])
    nightly_sync(SHOWCASE_SOURCES)


def main(argv: list[str]) -> int:
    if argv[:1] == ["build"]:
        print(json.dumps(build()))
    elif argv[:1] == ["running"] and len(argv) == 2:
        running(argv[1])
    elif argv[:1] == ["showcase"]:
        showcase()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
