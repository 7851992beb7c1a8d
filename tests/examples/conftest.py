"""Fixtures for the example tests: the fake GitHub API and a runner for example scripts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from example_runner import ExampleRunner, make_runner

from fake_github_api import FakeGitHubAPI


@pytest.fixture
def runner(tmp_path: Path) -> ExampleRunner:
    return make_runner(tmp_path)


@pytest.fixture
def fake_api() -> Iterator[FakeGitHubAPI]:
    with FakeGitHubAPI(latency=0.02) as api:
        yield api
