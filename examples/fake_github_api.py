"""An offline stand-in for api.github.com, so the examples and tests run without a network.

Only ``GET /repos/{owner}/{repo}`` is served. Counts are deterministic per repo (real-looking
fixed numbers for the tutorial's repos, a hash-derived number for anything else), and some
repos fail their first request with a GitHub-style 503, so a flow's retries are visible.
Stdlib only: the demo starts it in-process before any dependency is imported.

    with FakeGitHubAPI(latency=0.02) as api:
        httpx.get(f"{api.url}/repos/PrefectHQ/prefect").json()["stargazers_count"]
        api.requests  # {"/repos/PrefectHQ/prefect": 1}

    python examples/fake_github_api.py --port 8765    # serve in the foreground
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["KNOWN_REPOS", "FakeGitHubAPI", "main", "repo_payload"]

DOCS_URL = "https://docs.github.com/rest"
_REPO_PATH = re.compile(r"^/repos/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)$")

# Fixed, realistic numbers for the repos the tutorial uses (lower-cased name -> payload fields).
KNOWN_REPOS: dict[str, dict[str, Any]] = {
    "prefecthq/prefect": {
        "id": 139199684,
        "full_name": "PrefectHQ/prefect",
        "description": "Prefect is a workflow orchestration framework for building resilient "
        "data pipelines in Python.",
        "language": "Python",
        "stargazers_count": 20312,
        "forks_count": 1930,
        "open_issues_count": 842,
    },
    "pydantic/pydantic": {
        "id": 64747544,
        "full_name": "pydantic/pydantic",
        "description": "Data validation using Python type hints",
        "language": "Python",
        "stargazers_count": 25187,
        "forks_count": 2241,
        "open_issues_count": 512,
    },
    "huggingface/transformers": {
        "id": 155220641,
        "full_name": "huggingface/transformers",
        "description": "Transformers: the model-definition framework for state-of-the-art "
        "machine learning models in text, vision, audio, and multimodal models, for both "
        "inference and training.",
        "language": "Python",
        "stargazers_count": 149604,
        "forks_count": 30415,
        "open_issues_count": 1987,
    },
}


def _stable_hash(text: str) -> int:
    """Hash that is the same in every process (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.lower().encode()).digest()[:8], "big")


def repo_payload(owner: str, repo: str) -> dict[str, Any]:
    """The JSON GitHub would return for a repo: fixed for known repos, hash-derived otherwise."""
    full_name = f"{owner}/{repo}"
    known = KNOWN_REPOS.get(full_name.lower())
    if known is None:
        h = _stable_hash(full_name)
        stars = h % 50_000
        known = {
            "id": 100_000_000 + h % 900_000_000,
            "full_name": full_name,
            "description": f"Fake repository {full_name} served by fake_github_api",
            "language": "Python",
            "stargazers_count": stars,
            "forks_count": stars // 9 + h % 7,
            "open_issues_count": (h >> 16) % 400,
        }
    owner_login, name = known["full_name"].split("/", 1)
    return {
        "id": known["id"],
        "name": name,
        "full_name": known["full_name"],
        "private": False,
        "owner": {"login": owner_login, "type": "Organization"},
        "html_url": f"https://github.com/{known['full_name']}",
        "description": known["description"],
        "fork": False,
        "url": f"https://api.github.com/repos/{known['full_name']}",
        "language": known["language"],
        "stargazers_count": known["stargazers_count"],
        "watchers_count": known["stargazers_count"],
        "forks_count": known["forks_count"],
        "open_issues_count": known["open_issues_count"],
        "default_branch": "main",
    }


class _Server(ThreadingHTTPServer):
    """Threaded server with a listen backlog big enough for a burst of concurrent requests.

    The stdlib default of 5 makes the kernel drop connections beyond it, and the client only
    retries them a second later, which would make concurrency look slow.
    """

    daemon_threads = True
    request_queue_size = 128


class FakeGitHubAPI:
    """A threaded HTTP server on 127.0.0.1 that imitates ``GET /repos/{owner}/{repo}``.

    Failures are decided per repo, not by arrival order, so they are the same however the
    concurrent requests interleave: a failing repo answers its first ``fail_times`` requests
    with 503 and every later one with 200. ``fail_first`` names the failing repos explicitly;
    otherwise about one repo in ``failure_every`` fails (by a stable hash of its name; with
    the default of 2 that is PrefectHQ/prefect and pydantic/pydantic, not
    huggingface/transformers). ``failure_every=0`` turns failures off.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fail_first: Iterable[str] | None = None,
        failure_every: int = 2,
        fail_times: int = 1,
        latency: float = 0.0,
        verbose: bool = False,
    ) -> None:
        self._address = (host, port)
        self._fail_first = None if fail_first is None else {r.lower() for r in fail_first}
        self.failure_every = failure_every
        self.fail_times = fail_times
        self.latency = latency
        self.verbose = verbose
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._repo_hits: Counter[str] = Counter()
        self._failures = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeGitHubAPI:
        """Bind and serve in a daemon thread; returns self so ``api = FakeGitHubAPI().start()``."""
        if self._server is not None:
            return self
        self._server = _Server(self._address, self._handler_class())
        self._thread = threading.Thread(
            # A short poll interval keeps stop() (and so every test using this) fast.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-github-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGitHubAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- introspection for tests and the demo ------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("FakeGitHubAPI is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to use in place of ``https://api.github.com``."""
        return f"http://{self._address[0]}:{self.port}"

    @property
    def requests(self) -> dict[str, int]:
        """Requests received so far, per path (a snapshot, safe to keep)."""
        with self._lock:
            return dict(self._requests)

    @property
    def total_requests(self) -> int:
        """All requests received so far, whatever the path or outcome."""
        with self._lock:
            return sum(self._requests.values())

    @property
    def failures(self) -> int:
        """How many injected 503s were served."""
        with self._lock:
            return self._failures

    def reset(self) -> None:
        """Forget counts, so failing repos fail again on their next request."""
        with self._lock:
            self._requests.clear()
            self._repo_hits.clear()
            self._failures = 0

    def fails(self, full_name: str) -> bool:
        """Whether this repo's first ``fail_times`` requests get a 503."""
        key = full_name.lower()
        if self._fail_first is not None:
            return key in self._fail_first
        return self.failure_every > 0 and _stable_hash(key) % self.failure_every == 0

    # -- request handling ------------------------------------------------------------------

    def _respond(self, path: str) -> tuple[int, dict[str, Any]]:
        """Decide status and body for one request, counting it (thread-safe)."""
        match = _REPO_PATH.match(path)
        with self._lock:
            self._requests[path] += 1
            if match is None:
                return 404, {"message": "Not Found", "documentation_url": DOCS_URL, "status": "404"}
            full_name = f"{match['owner']}/{match['repo']}"
            self._repo_hits[full_name.lower()] += 1
            attempt = self._repo_hits[full_name.lower()]
            if self.fails(full_name) and attempt <= self.fail_times:
                self._failures += 1
                return 503, {
                    "message": "Service Unavailable: the fake GitHub API fails the first "
                    f"request for {full_name} on purpose (attempt {attempt})",
                    "documentation_url": DOCS_URL,
                    "status": "503",
                }
        return 200, repo_payload(match["owner"], match["repo"])

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "fake-github-api/1.0"
            protocol_version = "HTTP/1.1"  # keep-alive, like the real API
            # Headers and body go out as two writes; without TCP_NODELAY, Nagle's algorithm
            # and delayed ACKs add ~40 ms to every keep-alive response.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                if api.latency:
                    time.sleep(api.latency)
                status, body = api._respond(self.path.split("?", 1)[0])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-RateLimit-Limit", "60")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                if api.verbose:
                    super().log_message(format, *args)

        return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground: ``python examples/fake_github_api.py --port 8765``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--fail-first",
        action="append",
        metavar="OWNER/REPO",
        help="repo whose first request fails (repeatable; replaces --failure-every)",
    )
    parser.add_argument("--failure-every", type=int, default=2, help="0 disables failures")
    parser.add_argument("--fail-times", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    args = parser.parse_args(argv)
    api = FakeGitHubAPI(
        args.host,
        args.port,
        fail_first=args.fail_first,
        failure_every=args.failure_every,
        fail_times=args.fail_times,
        latency=args.latency,
        verbose=True,
    )
    # Bind first so the printed URL has the real port even with --port 0.
    api.start()
    print(f"Fake GitHub API on {api.url}  (Ctrl-C to stop)", flush=True)
    print(f"  export GITHUB_API_URL={api.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()


if __name__ == "__main__":
    main()
