"""The fake GitHub API is what the example tests measure against, so it must be exact itself."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from example_runner import EXAMPLES

from fake_github_api import KNOWN_REPOS, FakeGitHubAPI, repo_payload

SEED_REPOS = ["PrefectHQ/prefect", "pydantic/pydantic", "huggingface/transformers"]


Get = Callable[[FakeGitHubAPI, str], httpx.Response]


@pytest.fixture(scope="module")
def get() -> Iterator[Get]:
    """GET through one pooled client: a client per request (as httpx.get) costs ~0.1 s each."""
    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64)) as client:
        yield lambda api, path: client.get(f"{api.url}{path}")


def test_url_uses_a_free_port_on_loopback() -> None:
    with FakeGitHubAPI() as a, FakeGitHubAPI() as b:
        assert a.url.startswith("http://127.0.0.1:")
        assert a.port != b.port > 0


@pytest.mark.parametrize("repo", SEED_REPOS)
def test_known_repo_looks_like_github(repo: str, get: Get) -> None:
    with FakeGitHubAPI(failure_every=0) as api:
        response = get(api, f"/repos/{repo}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    known = KNOWN_REPOS[repo.lower()]
    assert body["full_name"] == repo
    assert body["name"] == repo.split("/")[1]
    assert body["owner"]["login"] == repo.split("/", maxsplit=1)[0]
    for field in ("stargazers_count", "forks_count", "open_issues_count", "description"):
        assert body[field] == known[field]
    assert isinstance(body["stargazers_count"], int)


def test_names_are_case_insensitive_and_answer_with_the_canonical_name(get: Get) -> None:
    with FakeGitHubAPI(failure_every=0) as api:
        body = get(api, "/repos/prefecthq/PREFECT").json()
    assert body["full_name"] == "PrefectHQ/prefect"
    assert body["stargazers_count"] == KNOWN_REPOS["prefecthq/prefect"]["stargazers_count"]


def test_unknown_repos_get_stable_hash_derived_counts(get: Get) -> None:
    with FakeGitHubAPI(failure_every=0) as a, FakeGitHubAPI(failure_every=0) as b:
        first = get(a, "/repos/octocat/hello-world").json()
        again = get(b, "/repos/octocat/hello-world").json()
        other = get(a, "/repos/octocat/spoon-knife").json()
    assert first == again == repo_payload("octocat", "hello-world")
    assert first["full_name"] == "octocat/hello-world"
    assert 0 <= first["stargazers_count"] < 50_000
    assert first["stargazers_count"] != other["stargazers_count"]
    # Same in a fresh interpreter: the hash must not be Python's per-process salted hash().
    code = (
        "from fake_github_api import repo_payload; "
        "print(repo_payload('octocat', 'hello-world')['stargazers_count'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=EXAMPLES, capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == first["stargazers_count"]


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/repos/PrefectHQ", "/repos/PrefectHQ/prefect/issues", "/users/x"]
)
def test_other_paths_are_404_like_github(path: str, get: Get) -> None:
    with FakeGitHubAPI() as api:
        response = get(api, path)
        assert api.requests == {path: 1}
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"


def test_default_failures_hit_two_of_the_tutorial_repos_once(get: Get) -> None:
    """Run 1 of the demo relies on this: two retries, one clean fetch, five requests."""
    with FakeGitHubAPI() as api:
        first = {repo: get(api, f"/repos/{repo}") for repo in SEED_REPOS}
        second = {repo: get(api, f"/repos/{repo}") for repo in SEED_REPOS}
        assert api.failures == 2
    assert {repo: r.status_code for repo, r in first.items()} == {
        "PrefectHQ/prefect": 503,
        "pydantic/pydantic": 503,
        "huggingface/transformers": 200,
    }
    assert all(r.status_code == 200 for r in second.values())
    error = first["PrefectHQ/prefect"].json()
    assert error["status"] == "503"
    assert "Service Unavailable" in error["message"]
    assert "documentation_url" in error


def test_failures_depend_on_the_repo_not_on_arrival_order(get: Get) -> None:
    with FakeGitHubAPI() as a, FakeGitHubAPI() as b:
        forward = [get(a, f"/repos/{r}").status_code for r in SEED_REPOS]
        backward = [get(b, f"/repos/{r}").status_code for r in reversed(SEED_REPOS)]
    assert forward == list(reversed(backward))


def test_fail_first_names_the_failing_repos_and_fail_times_how_often(get: Get) -> None:
    with FakeGitHubAPI(fail_first={"huggingface/transformers"}, fail_times=2) as api:
        statuses = [get(api, "/repos/huggingface/transformers").status_code for _ in range(3)]
        others = [get(api, f"/repos/{r}").status_code for r in SEED_REPOS[:2]]
        assert api.fails("HuggingFace/Transformers")
        assert not api.fails("PrefectHQ/prefect")
    assert statuses == [503, 503, 200]
    assert others == [200, 200]


def test_failure_every_zero_disables_failures(get: Get) -> None:
    with FakeGitHubAPI(failure_every=0) as api:
        assert [get(api, f"/repos/{r}").status_code for r in SEED_REPOS] == [200, 200, 200]


def test_requests_are_counted_per_path_and_reset_starts_over(get: Get) -> None:
    with FakeGitHubAPI() as api:
        assert api.requests == {}
        get(api, "/repos/PrefectHQ/prefect?per_page=1")
        get(api, "/repos/PrefectHQ/prefect")
        get(api, "/nope")
        assert api.requests == {"/repos/PrefectHQ/prefect": 2, "/nope": 1}
        assert api.total_requests == 3
        snapshot = api.requests
        snapshot["/x"] = 99  # a copy: callers cannot corrupt the counters
        assert "/x" not in api.requests
        api.reset()
        assert (api.requests, api.total_requests, api.failures) == ({}, 0, 0)
        assert get(api, "/repos/PrefectHQ/prefect").status_code == 503  # fails afresh


def test_concurrent_requests_are_served_in_parallel_and_counted_exactly(get: Get) -> None:
    latency, n = 0.25, 24
    with FakeGitHubAPI(latency=latency, failure_every=0) as api:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            responses = list(pool.map(lambda _: get(api, "/repos/pydantic/pydantic"), range(n)))
        elapsed = time.perf_counter() - start
        assert api.requests == {"/repos/pydantic/pydantic": n}
    assert all(r.status_code == 200 for r in responses)
    # Serially this would take n * latency = 6 s; a generous bound keeps it unflaky.
    assert elapsed < n * latency / 3


def test_concurrent_first_requests_fail_exactly_fail_times(get: Get) -> None:
    with FakeGitHubAPI(fail_first={"a/b"}, fail_times=3, latency=0.05) as api:
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: get(api, "/repos/a/b").status_code, range(10)))
        assert api.failures == 3
    assert sorted(statuses) == [200] * 7 + [503] * 3


def test_stop_releases_the_port(get: Get) -> None:
    api = FakeGitHubAPI().start()
    url = api.url
    assert get(api, "/repos/a/b").status_code in (200, 503)
    api.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/repos/a/b", timeout=2)
    with pytest.raises(RuntimeError):
        _ = api.url


def test_command_line_serves_in_the_foreground() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "fake_github_api.py"), "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Fake GitHub API on http://127.0.0.1:")
        url = line.split()[4]
        response = httpx.get(f"{url}/repos/huggingface/transformers", timeout=10)
        assert response.status_code == 200
        assert response.json()["full_name"] == "huggingface/transformers"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
