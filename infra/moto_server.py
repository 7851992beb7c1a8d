"""moto's server on 127.0.0.1, with DynamoDB requests taken one at a time.

moto has no per-table lock: two concurrent conditional writes can both pass their
condition, which DynamoDB never allows. Serialising DynamoDB requests makes the races
our tests provoke resolve as they would on AWS. Other services run concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["MotoServer"]


class _SerializedDynamoDB:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        #: Requests served, by service name (from the target header or the signature).
        self.requests: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service = target.split("_", 1)[0].lower() if target else _service(environ)
        with self._count_lock:
            self.requests[service] = self.requests.get(service, 0) + 1
        if target.startswith("DynamoDB"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def _service(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    parts = auth.split("Credential=", 1)[-1].split("/")
    return parts[3] if len(parts) > 3 else "unknown"


class _QuietRequestHandler(MotoRequestHandler):
    """No access log line per request (werkzeug prints one to stderr by default)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = _SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> dict[str, int]:
        with self.app._count_lock:
            return dict(self.app.requests)

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
