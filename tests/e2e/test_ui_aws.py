"""The run UI and the report over the AWS table: runs made by the local cloud's functions
(each task run a Lambda invocation), read by ``flowless ui`` started as a user starts it,
with ``FLOWLESS_BACKEND=aws``, over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import e2e_flows
import pytest
from bench.chromium import CHROMIUM, launch

from tests.e2e.cloud import Cloud

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


@pytest.fixture
def ui(on_aws: Cloud, tmp_path: Path) -> Iterator[str]:
    """``flowless ui --port 0`` on the stack; its address, from the line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flowless", "ui", "--port", "0"],
        env=on_aws.script_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/ \(Ctrl-C to stop\)", first)
        assert found, (first, process.stderr.read() if process.poll() is not None else "")
        assert "flowless UI for dynamodb://" in first
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        body: str = answer.read().decode()
        return body


def test_the_ui_shows_runs_made_on_aws(on_aws: Cloud, ui: str, tmp_path: Path) -> None:
    key = uuid.uuid4().hex[:10]
    e2e_flows.retrying.with_options(flow_run_name=f"retry-{key}")(key, 2)
    e2e_flows.cached_twice.with_options(flow_run_name=f"cache-{key}")(key)
    e2e_flows.failing.with_options(flow_run_name=f"fail-{key}")(f"no {key}", return_state=True)

    listed = _get(f"{ui}/?limit=1000")
    for name in (f"retry-{key}", f"cache-{key}", f"fail-{key}"):
        assert f">{name}</a>" in listed
    failed = _get(f"{ui}/?state=failed&limit=1000")
    assert f">fail-{key}</a>" in failed and f">retry-{key}</a>" not in failed

    retried = _get(f"{ui}/runs/retry-{key}")
    assert 'id="run-state">Completed<' in retried
    kinds = re.findall(r'class="bar k-[a-z-]+" data-kind="([a-z-]+)"', retried)
    assert kinds == ["attempt", "attempt", "completed"]  # retry_delay_seconds=0: no wait
    assert "Retry 2/3 will start immediately" in retried  # the remote task's lines

    cached = _get(f"{ui}/runs/cache-{key}")
    assert re.findall(r'class="tl-row" data-kind="([a-z]+)"', cached) == ["completed", "cached"]

    page = _get(f"{ui}/runs/fail-{key}")
    assert 'id="run-state">Failed<' in page
    task_page = re.findall(r'href="(/runs/[^"]+/tasks/[^"]+)"', page)[-1]
    failed_task = _get(ui + task_page)
    assert "Traceback (most recent call last)" in failed_task
    assert f"ValueError: no {key}" in failed_task

    report = tmp_path / "report.html"
    made = subprocess.run(
        [sys.executable, "-m", "flowless", "flow-run", "report", f"fail-{key}", "-o", str(report)],
        env=on_aws.script_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert "<script" not in report.read_text()
    assert f"ValueError: no {key}" in report.read_text()


def test_a_run_on_aws_in_the_browser(on_aws: Cloud, ui: str) -> None:
    """The same pages in Debian's Chromium, over the table: a run with a retried task run
    and a subflow; its bars, and a bar opening the task run's page."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser installs it)")
    from playwright.sync_api import expect, sync_playwright

    key = uuid.uuid4().hex[:10]
    e2e_flows.retrying.with_options(flow_run_name=f"seen-{key}")(key, 1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{ui}/runs/seen-{key}")
            expect(page.locator("#run-state")).to_have_text("Completed")
            expect(page.locator(".tl-row")).to_have_count(1)
            bars = page.locator("a.bar").evaluate_all("bars => bars.map(b => b.dataset.kind)")
            assert bars == ["attempt", "completed"]
            page.screenshot(path=str(SCREENSHOTS / "aws-run-page.png"), full_page=True)
            page.locator('a.bar[data-kind="completed"]').click()
            expect(page.locator(".task-state")).to_have_text("Completed")
            expect(page.locator("tr.line")).to_have_count(2)  # the retry line, the final one
            expect(page.locator("table.inputs")).to_contain_text(f"'{key}'")
            page.screenshot(path=str(SCREENSHOTS / "aws-task-run-page.png"), full_page=True)
        finally:
            browser.close()
