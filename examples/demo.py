"""``make demo``: the GitHub-stars tutorial, offline, run twice to show rate limiting,
retries and caching.

Starts the fake GitHub API in this process, creates the tutorial's ``github-api`` rate
limit with the ``flowless gcl create`` command (paced for a demo: 1 request at once, then
2 per second, where the tutorial has GitHub's 60 per hour), then runs ``github_stars.py``
twice as separate programs (as a user would type ``python my_data_pipeline.py`` twice),
sharing one ``FLOWLESS_HOME``. Each run's ``rate_limit("github-api")`` calls wait their
turn, and the log says for how long. Run 1 fetches, with some requests failing and being
retried; run 2 must be answered entirely from the task cache, so the fake API must see no
request at all. Exits non-zero if a run fails or run 2 touches the API.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fake_github_api import FakeGitHubAPI

PIPELINE = Path(__file__).resolve().with_name("github_stars.py")
RUNS = (
    "Run 1: fetches from the fake GitHub API (paced by the rate limit; some requests fail "
    "and are retried)",
    "Run 2: same inputs -> every fetch_stats is a cache hit",
)
#: The demo's pace; the tutorial's GitHub limit is --limit 60 --slot-decay-per-second 0.016.
RATE_LIMIT = ("--limit", "1", "--slot-decay-per-second", "2")


@dataclass
class RunResult:
    """What one run of the pipeline did, as seen from outside it."""

    returncode: int
    requests: int
    failures: int
    seconds: float


def banner(text: str) -> None:
    """Print a heading that stands out between the runs' log lines."""
    rule = "=" * len(text)
    print(f"\n{rule}\n{text}\n{rule}", flush=True)


def run_pipeline(api: FakeGitHubAPI, env: dict[str, str]) -> RunResult:
    """Run github_stars.py in a fresh interpreter, streaming its output to ours."""
    requests, failures = api.total_requests, api.failures
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(PIPELINE)], env=env, check=False)
    return RunResult(
        proc.returncode,
        api.total_requests - requests,
        api.failures - failures,
        time.monotonic() - started,
    )


def create_rate_limit(env: dict[str, str]) -> int:
    """``flowless gcl create github-api ...``, as the tutorial has you type it (or
    ``update``, when FLOWLESS_HOME already has the limit from an earlier demo)."""
    cli = [sys.executable, "-m", "flowless"]
    print(f"$ {cli_command()} gcl create github-api {' '.join(RATE_LIMIT)}", flush=True)
    made = subprocess.run([*cli, "gcl", "create", "github-api", *RATE_LIMIT], env=env, check=False)
    if made.returncode != 0:
        print(f"$ {cli_command()} gcl update github-api {' '.join(RATE_LIMIT)}", flush=True)
        made = subprocess.run(
            [*cli, "gcl", "update", "github-api", *RATE_LIMIT], env=env, check=False
        )
    return made.returncode


def cli_command() -> str:
    """How to call the ``flowless`` command from here (``make demo`` does not activate .venv)."""
    sibling = Path(sys.executable).with_name("flowless")
    if shutil.which("flowless") or not sibling.exists():
        return "flowless"
    try:
        return str(sibling.relative_to(Path.cwd()))
    except ValueError:
        return str(sibling)


def main() -> int:
    """Run the pipeline twice against the fake API and check that run 2 was all cache hits."""
    home = os.environ.get("FLOWLESS_HOME") or tempfile.mkdtemp(prefix="flowless-demo-")
    results: list[RunResult] = []
    with FakeGitHubAPI(latency=0.02) as api:
        env = {**os.environ, "GITHUB_API_URL": api.url, "FLOWLESS_HOME": home}
        print(f"Fake GitHub API on {api.url}; FLOWLESS_HOME={home}", flush=True)
        banner("Setup: the tutorial's rate limit on GitHub requests")
        if create_rate_limit(env) != 0:
            return 1
        for title in RUNS:
            banner(title)
            results.append(run_pipeline(api, env))
            if results[-1].returncode != 0:
                break

    banner("Summary")
    for n, result in enumerate(results, start=1):
        detail = f"{result.failures} answered 503 and retried" if result.requests else "all cached"
        print(
            f"Run {n}: exit code {result.returncode}, {result.requests} request(s) to the "
            f"fake GitHub API ({detail}), {result.seconds:.1f} s"
        )
    ok = len(results) == len(RUNS) and all(r.returncode == 0 for r in results)
    if len(results) == len(RUNS) and results[1].requests:
        print("Run 2 should have been served from the cache, but it called the API.")
        ok = False
    print("\nThe runs are recorded; list them, read a run's log, and see the limit's slots")
    print("decay, with:")
    prefix = f"  FLOWLESS_HOME={shlex.quote(home)} {cli_command()}"
    print(f"{prefix} flow-run ls")
    print(f"{prefix} flow-run logs NAME --task fetch_stats")
    print(f"{prefix} gcl ls")
    pip = cli_command().removesuffix("flowless") + "pip"
    print(f"{prefix} ui    # in a browser; first: {pip} install 'flowless[ui]'")
    print("\nDemo OK" if ok else "\nDemo FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
