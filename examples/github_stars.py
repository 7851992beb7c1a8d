"""The Prefect tutorial's final ``my_data_pipeline.py`` (retries, concurrency, rate limit, cache).

Only the imports (``prefect`` -> ``flowless``), the API base URL (``GITHUB_API_URL``, so the
offline fake in ``fake_github_api.py`` can stand in for GitHub), a short retry delay for the
demo, and the repo list from argv differ from the tutorial. Run it twice: the second run
answers every ``fetch_stats`` from the cache.

    python examples/github_stars.py [OWNER/REPO ...]
"""

import os
import sys
from datetime import timedelta
from typing import Any

import httpx

from flowless import flow, task
from flowless.cache_policies import INPUTS
from flowless.concurrency.sync import rate_limit

GITHUB_API_URL = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
DEFAULT_REPOS = ["PrefectHQ/prefect", "pydantic/pydantic", "huggingface/transformers"]


@flow(log_prints=True)
def show_stars(github_repos: list[str]) -> None:
    """Flow: Show the number of stars that GitHub repos have"""

    # Task 1: Make HTTP requests concurrently while respecting concurrency limits
    repo_stats: list[dict[str, Any]] = []
    for repo in github_repos:
        rate_limit("github-api")
        repo_stats.append(
            {
                "repo": repo,
                "task": fetch_stats.submit(repo),  # Submit each task to a task runner
            }
        )

    # Task 2: Once each concurrent task completes, show the results
    for repo in repo_stats:
        repo_name = repo["repo"]
        stars = get_stars(repo["task"].result())  # Block until the task has completed
        print(f"{repo_name}: {stars} stars")


@task(
    retries=3,
    retry_delay_seconds=1,  # the tutorial retries immediately; a pause makes retries visible
    cache_policy=INPUTS,
    cache_expiration=timedelta(days=1),
)
def fetch_stats(github_repo: str) -> dict[str, Any]:
    """Task 1: Fetch the statistics for a GitHub repo"""

    api_response = httpx.get(f"{GITHUB_API_URL}/repos/{github_repo}")
    api_response.raise_for_status()  # Force a retry if you don't get a 2xx status code
    return api_response.json()  # type: ignore[no-any-return]


@task
def get_stars(repo_stats: dict[str, Any]) -> int:
    """Task 2: Get the number of stars from GitHub repo statistics"""

    return repo_stats["stargazers_count"]  # type: ignore[no-any-return]


# Run the flow
if __name__ == "__main__":
    show_stars(sys.argv[1:] or DEFAULT_REPOS)
