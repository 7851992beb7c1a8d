"""moto's server on 127.0.0.1, in a process of its own, DynamoDB requests one at a time.

moto has no per-table lock: two concurrent conditional writes can both pass their
condition, which DynamoDB never allows. Serialising DynamoDB requests makes the races
our tests provoke resolve as they would on AWS. Other services run concurrently.

Its own process, because moto's backends are global to a process: ``mock_aws`` resets
all of them when it starts and stops, so a test using it in the same process as a
running local cloud would wipe the cloud's tables and buckets.

``MotoServer().start()`` runs ``python moto_server.py --port 0``, which prints the port it
bound; ``GET /__flowless/requests`` answers the requests served so far, by service.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["MotoServer"]

_COUNTS_PATH = "/__flowless/requests"


class _SerializedDynamoDB:
    """The WSGI app: counts requests by service, takes DynamoDB's one at a time."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == _COUNTS_PATH:
            with self._count_lock:
                body = json.dumps(self.requests).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        service = _service(environ)
        with self._count_lock:
            self.requests[service] = self.requests.get(service, 0) + 1
        if service == "dynamodb":
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def _service(environ: dict[str, Any]) -> str:
    """The signing name in the SigV4 credential scope (``.../us-east-1/dynamodb/aws4_request``)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    parts = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return parts[3] if len(parts) > 3 else "unknown"


def _serve(host: str, port: int, switch_interval: float | None) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietRequestHandler(MotoRequestHandler):
        """No access log line per request (werkzeug prints one to stderr by default)."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    app = _SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class MotoServer:
    """moto's server in a child process; ``stop()`` ends it (and everything it held)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, switch_interval: float | None = None
    ) -> None:
        self.host = host
        self._port = port
        #: Passed to the server's ``sys.setswitchinterval`` (tests that provoke races).
        self.switch_interval = switch_interval
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("The moto server is not started.")
        return f"http://{self.host}:{self._port}"

    @property
    def requests(self) -> dict[str, int]:
        """Requests served so far, by service (the SigV4 signing name: ``dynamodb``...)."""
        with urllib.request.urlopen(self.url + _COUNTS_PATH, timeout=10) as response:
            return dict(json.loads(response.read()))

    def start(self) -> MotoServer:
        command = [sys.executable, str(Path(__file__)), "--host", self.host]
        command += ["--port", str(self._port)]
        if self.switch_interval is not None:
            command += ["--switch-interval", repr(self.switch_interval)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"The moto server did not start (it printed {line!r}).")
        self._port = int(line)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="moto's server, DynamoDB serialised")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--switch-interval", type=float, default=None)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        _serve(args.host, args.port, args.switch_interval)
