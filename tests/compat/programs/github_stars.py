# Prefect example: the GitHub stars tutorial (fetch_stats/get_stars) with submit and result
from datetime import timedelta

from flowless import flow, task
from flowless.cache_policies import INPUTS

# Stand-in for the GitHub API, so that the example needs no network.
FAKE_GITHUB = {
    "PrefectHQ/prefect": {"stargazers_count": 17000, "forks_count": 1600},
    "pydantic/pydantic": {"stargazers_count": 21000, "forks_count": 1900},
    "python/cpython": {"stargazers_count": 63000, "forks_count": 30000},
}


@task(retries=3, cache_policy=INPUTS, cache_expiration=timedelta(days=1))
def fetch_stats(github_repo: str) -> dict:
    """Task 1: Fetch the statistics for a GitHub repo"""
    return FAKE_GITHUB[github_repo]


@task
def get_stars(repo_stats: dict) -> int:
    """Task 2: Get the number of stars from GitHub repo statistics"""
    return repo_stats["stargazers_count"]


@flow(log_prints=True)
def show_stars(github_repos: list[str]) -> list[int]:
    """Flow: Show the number of stars that GitHub repos have"""
    stats_futures = [fetch_stats.submit(repo) for repo in github_repos]
    star_futures = [get_stars.submit(future) for future in stats_futures]
    stars = [future.result() for future in star_futures]
    for repo, star_count in zip(github_repos, stars):
        print(f"{repo}: {star_count} stars")
    return stars


if __name__ == "__main__":
    repos = ["PrefectHQ/prefect", "pydantic/pydantic", "python/cpython"]
    stars = show_stars(repos)
    for repo, count in zip(repos, stars):
        print(f"{repo} has {count:,} stars")
    print(f"total: {sum(stars)}")
