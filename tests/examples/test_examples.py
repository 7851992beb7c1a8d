"""The seed programs run unchanged (bar imports) and print what Prefect prints.

Each example runs in its own interpreter against the offline fake GitHub API. The expected
lines are Prefect 3's console output; with ``log_prints=True`` Prefect logs ``print`` calls
instead of writing them, and its console handler writes to stderr, so that is where they
are matched. Set ``FLOWLESS_EXAMPLES_REFERENCE_PYTHON`` to check these tests against Prefect.
"""

from __future__ import annotations

import re

import pytest
from example_runner import ExampleRunner

from fake_github_api import KNOWN_REPOS, FakeGitHubAPI, repo_payload

pytestmark = pytest.mark.slow

SEED_REPOS = ["PrefectHQ/prefect", "pydantic/pydantic", "huggingface/transformers"]
# The fake API fails the first request for these two (see test_fake_github_api.py).
RETRIED = {"PrefectHQ/prefect", "pydantic/pydantic"}
RATE_LIMIT_WARNING = "Concurrency limits ['github-api'] do not exist - skipping acquisition."
CACHED = "Finished in state Cached(type=COMPLETED)"
LOG_PREFIX = r"^\d\d:\d\d:\d\d\.\d{3} \| (?P<level>[A-Z]+) *\| "


def stars_line(repo: str, stars: int) -> re.Pattern[str]:
    """The flow run's log line for one ``print(f"{repo_name}: {stars} stars")``."""
    return re.compile(
        LOG_PREFIX + rf"Flow run '[\w-]+' - {re.escape(repo)}: {stars} stars$", re.MULTILINE
    )


def assert_stars_logged(output: str, stdout: str, repos: dict[str, int]) -> None:
    for repo, stars in repos.items():
        assert stars_line(repo, stars).search(output), f"no star line for {repo}"
        assert f"{repo}: {stars} stars" not in stdout, "log_prints must log, not also print"


def test_github_stars_retries_then_serves_run_2_from_the_cache(
    runner: ExampleRunner, fake_api: FakeGitHubAPI
) -> None:
    expected = {repo: KNOWN_REPOS[repo.lower()]["stargazers_count"] for repo in SEED_REPOS}

    first = runner.run("github_stars.py", GITHUB_API_URL=fake_api.url)
    assert first.returncode == 0, str(first)
    assert_stars_logged(first.stderr, first.stdout, expected)
    assert fake_api.requests == {f"/repos/{r}": 2 if r in RETRIED else 1 for r in SEED_REPOS}
    retries = re.findall(
        LOG_PREFIX + r"Task run 'fetch_stats-\w+' - Task run failed with exception: "
        r"HTTPStatusError\(.*503 Service Unavailable.* - Retry 1/3 will start",
        first.stderr,
        re.MULTILINE,
    )
    assert len(retries) == len(RETRIED), str(first)
    assert "Retry 2/3" not in first.stderr
    assert RATE_LIMIT_WARNING in first.stderr
    assert first.stderr.count(RATE_LIMIT_WARNING) == len(SEED_REPOS)
    assert CACHED not in first.stderr
    assert re.search(
        LOG_PREFIX + r"Flow run '[\w-]+' - Finished in state Completed\(\)$",
        first.stderr,
        re.MULTILINE,
    ), str(first)

    before = fake_api.total_requests
    second = runner.run("github_stars.py", GITHUB_API_URL=fake_api.url)
    assert second.returncode == 0, str(second)
    assert fake_api.total_requests == before, "run 2 must be served entirely from the cache"
    cached = re.findall(
        LOG_PREFIX + rf"Task run 'fetch_stats-\w+' - {re.escape(CACHED)}$",
        second.stderr,
        re.MULTILINE,
    )
    assert len(cached) == second.stderr.count(CACHED) == len(SEED_REPOS), str(second)
    assert "Retry" not in second.stderr
    assert RATE_LIMIT_WARNING in second.stderr
    assert_stars_logged(second.stderr, second.stdout, expected)


def test_github_stars_takes_repos_from_argv(runner: ExampleRunner, fake_api: FakeGitHubAPI) -> None:
    repo = "octocat/hello-world"
    run = runner.run("github_stars.py", repo, GITHUB_API_URL=fake_api.url)
    assert run.returncode == 0, str(run)
    assert_stars_logged(
        run.stderr, run.stdout, {repo: repo_payload("octocat", "hello-world")["stargazers_count"]}
    )
    assert set(fake_api.requests) == {f"/repos/{repo}"}


def test_unreliable_api_retries_until_the_call_succeeds(runner: ExampleRunner) -> None:
    # Seed 0 draws failure, failure, success: two retries, then the pipeline completes.
    run = runner.run("unreliable_api.py", UNRELIABLE_SEED="0")
    assert run.returncode == 0, str(run)
    retry = (
        LOG_PREFIX + r"Task run 'Get data from API-\w+' - Task run failed with exception: "
        r"Exception\('Our unreliable service failed'\) - Retry {n}/4 will start "
        r"0\.2 second\(s\) from now$"
    )
    for n in (1, 2):
        assert re.search(retry.replace("{n}", str(n)), run.stderr, re.MULTILINE), str(run)
    assert "Retry 3/4" not in run.stderr
    # The flow has no log_prints, so the task's print goes to stdout as plain text.
    assert (
        "Wrote {'data': 42, 'message': 'Trying a flow with tasks and retries!'} "
        "to database successfully!" in run.stdout
    ), str(run)
    assert re.search(
        LOG_PREFIX + r"Flow run '[\w-]+' - Finished in state Completed\(\)$", run.stderr, re.M
    ), str(run)


def test_unreliable_api_fails_when_retries_are_exhausted(runner: ExampleRunner) -> None:
    # Seed 16 draws five failures: the first attempt and all four retries fail.
    run = runner.run("unreliable_api.py", UNRELIABLE_SEED="16")
    assert run.returncode != 0, str(run)
    assert "Retry 4/4 will start" in run.stderr
    assert "Retries are exhausted" in run.stderr
    assert re.search(
        LOG_PREFIX + r"Flow run '[\w-]+' - Finished in state Failed\(", run.stderr, re.M
    ), str(run)
    assert "Exception: Our unreliable service failed" in run.stderr
    assert "to database successfully" not in run.stdout


def test_demo_runs_twice_and_run_2_is_all_cache_hits(runner: ExampleRunner) -> None:
    run = runner.run("demo.py", timeout=300)
    assert run.returncode == 0, str(run)
    assert "Run 1: fetches from the fake GitHub API" in run.stdout
    assert "Run 1: exit code 0, 5 request(s) to the fake GitHub API (2 answered 503" in run.stdout
    assert "Run 2: exit code 0, 0 request(s)" in run.stdout
    assert f"FLOWLESS_HOME={runner.home}" in run.stdout
    assert "flow-run ls" in run.stdout
    assert run.stderr.count(CACHED) == len(SEED_REPOS), str(run)
    # The tutorial's limit, created with the CLI, paces both runs' rate_limit() calls:
    # the first of a run takes the free slot, each later one waits ~0.5 s for decay.
    assert "gcl create github-api --limit 1 --slot-decay-per-second 2" in run.stdout
    assert RATE_LIMIT_WARNING not in run.stderr
    waits = re.findall(
        LOG_PREFIX
        + r"Flow run '[\w-]+' - Waited (\d+\.\d\d)s for 1 slot\(s\) of \['github-api'\]$",
        run.stderr,
        re.MULTILINE,
    )
    assert len(waits) >= 2 * (len(SEED_REPOS) - 1), str(run)
    assert "gcl ls" in run.stdout
