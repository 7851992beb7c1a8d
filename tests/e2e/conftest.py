"""The local cloud for the end-to-end tests: one per test session (per xdist worker).

Its functions run the real handlers in worker processes, with ``handlers/``,
``examples/`` and ``tests/e2e/flows/`` as their code (what ``sam build`` packages, plus
the tests' own flows). The fake GitHub API runs for the whole session too, because the
task-run function's environment, which names it, is fixed when the cloud starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from infra.local_cloud import CODE_PATHS, REPO, LocalCloud

FLOWS = Path(__file__).resolve().parent / "flows"
# The tests import e2e_flows and the examples by the names the functions import them by.
for _path in (FLOWS, REPO / "examples"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fake_github_api import FakeGitHubAPI  # noqa: E402
from tests.e2e.cloud import Cloud  # noqa: E402


@pytest.fixture(scope="session")
def aws() -> Iterator[Cloud]:
    with FakeGitHubAPI(latency=0.01) as github:
        # The example's API fails half the time; from seed 2910 no 5 draws in a row (one
        # task run's attempts) fail in the first 500, so a test of it never fails by chance.
        environment = {
            "GITHUB_API_URL": github.url,
            "UNRELIABLE_RETRY_DELAY": "0.01",
            "UNRELIABLE_SEED": "2910",
        }
        with LocalCloud(
            stack_name="flowless-e2e",
            code_paths=(*CODE_PATHS, str(FLOWS)),
            environment=environment,
            concurrency=4,
        ) as cloud:
            yield Cloud(cloud, github)


@pytest.fixture
def on_aws(aws: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """Flows called in this test run on the cloud: flow body here, tasks as invocations."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in aws.cloud.env.items():
        monkeypatch.setenv(key, value)
    return aws
