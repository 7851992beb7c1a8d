"""A local AWS Lambda: the invoke API over HTTP, running handlers in worker processes.

``POST /2015-03-31/functions/{name}/invocations`` with ``X-Amz-Invocation-Type``
``RequestResponse`` (default) or ``Event``: boto3's ``lambda.invoke`` works against it
unchanged through ``AWS_ENDPOINT_URL_LAMBDA``. Each function keeps warm worker
processes (one import of the handler each, like Lambda's execution environments), up
to its concurrency; a handler that raises answers with ``X-Amz-Function-Error``, and one
that runs past the function's timeout is killed and answers as Lambda does
(``Task timed out after N seconds``). Counters record every invocation.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import unquote

__all__ = ["FunctionSpec", "LambdaEndpoint"]

_PATH = "/2015-03-31/functions/"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    #: ``module.function``, as in the template's ``Handler``.
    handler: str
    #: Directories that make up the function's code (put first on ``sys.path``).
    code_paths: tuple[str, ...]
    timeout: float = 30.0
    memory_mb: int = 512
    environment: dict[str, str] = field(default_factory=dict)
    #: Workers at once; a call beyond waits for one, or is throttled (429) if
    #: ``throttle`` is set, as with reserved concurrency.
    concurrency: int = 4
    throttle: bool = False


class _Context:
    """What a handler's ``context`` argument offers (what powertools reads)."""

    def __init__(self, spec: FunctionSpec, deadline: float) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{spec.name}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _worker_main(conn: Connection, spec: FunctionSpec) -> None:
    os.environ.update(spec.environment)
    sys.path[:0] = list(spec.code_paths)
    module_name, _, attribute = spec.handler.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    while True:
        message = conn.recv()
        if message is None:
            return
        deadline = time.monotonic() + spec.timeout
        try:
            result = handler(json.loads(message), _Context(spec, deadline))
            conn.send((json.dumps(result).encode(), None))
        except BaseException as exc:  # what Lambda reports for an unhandled error
            body = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_exception(exc),
            }
            conn.send((json.dumps(body).encode(), "Unhandled"))


class _Worker:
    def __init__(self, spec: FunctionSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, spec), daemon=True)
        self.process.start()
        child.close()

    def invoke(self, payload: bytes, timeout: float) -> tuple[bytes, str | None] | None:
        """The response, or ``None`` if the handler ran past ``timeout`` (then killed)."""
        try:
            self.conn.send(payload)
            if not self.conn.poll(timeout):
                self.kill()
                return None
            body, error = self.conn.recv()
        except (EOFError, OSError):  # the worker died (import error, out of memory, exit)
            self.kill()
            return (
                json.dumps(
                    {
                        "errorMessage": "Runtime exited before answering",
                        "errorType": "Runtime.ExitError",
                    }
                ).encode(),
                "Unhandled",
            )
        return body, error

    def kill(self) -> None:
        self.process.kill()
        self.process.join()

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.kill()


class _Function:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.idle: list[_Worker] = []
        self.slots = threading.BoundedSemaphore(spec.concurrency)
        self.lock = threading.Lock()
        self.workers: list[_Worker] = []

    def invoke(self, payload: bytes) -> tuple[int, bytes, dict[str, str]]:
        if not self.slots.acquire(blocking=not self.spec.throttle):
            return (
                429,
                _error("TooManyRequestsException", "Rate exceeded"),
                {"x-amzn-ErrorType": "TooManyRequestsException"},
            )
        try:
            with self.lock:
                worker = self.idle.pop() if self.idle else None
            if worker is None or not worker.process.is_alive():
                worker = _Worker(self.spec)
                with self.lock:
                    self.workers.append(worker)
            outcome = worker.invoke(payload, self.spec.timeout)
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            if outcome is None:
                body = json.dumps(
                    {
                        "errorMessage": f"Task timed out after {self.spec.timeout:.2f} seconds",
                        "errorType": "Sandbox.Timedout",
                    }
                ).encode()
                headers["X-Amz-Function-Error"] = "Unhandled"
                return 200, body, headers
            with self.lock:
                self.idle.append(worker)
            body, function_error = outcome
            if function_error:
                headers["X-Amz-Function-Error"] = function_error
            return 200, body, headers
        finally:
            self.slots.release()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"__type": kind, "Type": "User", "message": message}).encode()


class LambdaEndpoint:
    """The invoke API for ``functions``, on 127.0.0.1 (port 0: any free port)."""

    def __init__(
        self, functions: list[FunctionSpec], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.functions = {spec.name: _Function(spec) for spec in functions}
        #: Invocations received, by function name (including throttled and failed ones).
        self.invocations: dict[str, int] = dict.fromkeys(self.functions, 0)
        self._count_lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = self.rfile.read(length) if length else b"{}"
                status, body, headers = endpoint._handle(self.path, self.headers, payload)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _handle(self, path: str, headers: Any, payload: bytes) -> tuple[int, bytes, dict[str, str]]:
        if not path.startswith(_PATH) or not path.split("?", maxsplit=1)[0].endswith(
            "/invocations"
        ):
            return (
                404,
                _error("ResourceNotFoundException", f"No such API: {path}"),
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        name = unquote(path[len(_PATH) :].split("/", maxsplit=1)[0])
        name = name.split(":function:")[-1].split(":", maxsplit=1)[0]  # names and ARNs
        function = self.functions.get(name)
        if function is None:
            return (
                404,
                _error("ResourceNotFoundException", f"Function not found: {name}"),
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        with self._count_lock:
            self.invocations[name] += 1
        kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return 204, b"", {}
        if kind == "Event":
            threading.Thread(target=function.invoke, args=(payload,), daemon=True).start()
            return 202, b"", {}
        return function.invoke(payload)

    def start(self) -> LambdaEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        for function in self.functions.values():
            function.stop()
