# Prefect example: rate_limit with a concurrency limit that was never created
from flowless import flow, task
from flowless.concurrency.sync import concurrency, rate_limit


@task
def fetch(repo: str) -> str:
    return f"stats for {repo}"


@flow
def limited_flow(repos: list[str]) -> list[str]:
    futures = []
    for repo in repos:
        rate_limit("github-api")
        futures.append(fetch.submit(repo))
    with concurrency("database", occupy=1):
        print("inside the concurrency block")
    return [future.result() for future in futures]


if __name__ == "__main__":
    for line in limited_flow(["a/one", "b/two"]):
        print(line)
