"""One store of real runs, its UI served from this process, and headless Chromium.

The store is filled once per module (per xdist worker) by ``tests/ui/_flows.py`` in a
process of its own, so the engine's state never mixes with the test's; the UI reads it
read-only over ``flowless.ui.make_server`` on 127.0.0.1 in a daemon thread. Every browser
test leaves a full-page screenshot in ``test-artifacts/ui/<test name>.png``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bench.chromium import CHROMIUM, launch

from flowless.cli._stores import open_run_store
from flowless.settings import Settings
from flowless.store import Store
from flowless.ui import Pages
from flowless.ui._server import serving
from tests.ui import _flows

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "ui"


def flows_process(home: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """``python -m tests.ui._flows ARGS`` with ``FLOWLESS_HOME=home``."""
    env = {**os.environ, "FLOWLESS_HOME": str(home), "FLOWLESS_LOGGING_LEVEL": "INFO"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ui._flows", *args],
        cwd=ROOT,
        env=env,
        text=True,
        **popen,
    )


@dataclass
class UiStore:
    home: Path
    url: str
    pages: Pages
    names: dict[str, str]

    @property
    def store(self) -> Store:
        return self.pages.store

    def run_id(self, name: str) -> str:
        return self.store.match_flow_runs(name)[0].id  # type: ignore[union-attr]

    def run_url(self, name: str) -> str:
        return f"{self.url}runs/{self.run_id(name)}"


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStore]:
    home = tmp_path_factory.mktemp("ui-home")
    build = flows_process(home, "build", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = build.communicate(timeout=120)
    assert build.returncode == 0, err
    names = json.loads(out.strip().splitlines()[-1])
    settings = Settings(
        home=home, logging_level="INFO", task_runner_max_workers=4, results_inline_max_bytes=65536
    )
    opened = open_run_store(settings)
    assert opened is not None
    pages = Pages(opened)
    try:
        with serving(pages) as url:
            yield UiStore(home, f"{url}/", pages, names)
    finally:
        pages.close()


@dataclass
class RunningRun:
    name: str
    release: Path
    process: subprocess.Popen[str]

    def release_it(self) -> None:
        self.release.touch()


@pytest.fixture
def running_run(ui_store: UiStore, tmp_path: Path) -> Iterator[RunningRun]:
    """A run in the store that stays Running, blocked in a task, until ``release_it``."""
    release = tmp_path / "release"
    errors = tmp_path / "running.err"
    with errors.open("w") as err:
        process = flows_process(
            ui_store.home, "running", str(release), stdout=subprocess.DEVNULL, stderr=err
        )
    running = RunningRun(_flows.RUNNING, release, process)
    try:
        deadline = time.monotonic() + 30
        while True:  # until the blocking task run is in the store, Running
            assert process.poll() is None, errors.read_text()
            status, html = ui_store.pages.get("/runs/" + _flows.RUNNING)
            if status == 200 and re.search(r'data-kind="running" data-task-run-id', html):
                break
            assert time.monotonic() < deadline, f"the run never showed as running: {html}"
            time.sleep(0.05)
        yield running
    finally:
        release.touch()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(request: pytest.FixtureRequest, suffix: str = "") -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    return SCREENSHOTS / f"{name}{suffix}.png"


def _context(
    browser: Any, request: pytest.FixtureRequest, suffix: str = "", **options: Any
) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        try:
            if page.url.startswith(("http", "file")):
                page.screenshot(path=str(screenshot_path(request, suffix)), full_page=True)
        finally:
            context.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (JavaScript on, as a person's browser); screenshotted at the end."""
    yield from _context(browser, request)


@pytest.fixture
def page_without_script(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page with JavaScript off; screenshotted at the end."""
    yield from _context(browser, request, "-no-script", java_script_enabled=False)
