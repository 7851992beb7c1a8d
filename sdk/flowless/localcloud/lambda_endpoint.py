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
import json
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flowless.localcloud._lambda_worker import read_frame, write_frame

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
    #: A file the workers' stdout and stderr are appended to (the function's log group);
    #: ``None``: the endpoint's own stdout and stderr.
    log_path: str | None = None


#: What a worker keeps of the endpoint's environment: the rest is the function's own, as
#: on Lambda, so a caller's AWS profile or FLOWLESS_* settings cannot leak into a handler.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")
_WORKER = Path(__file__).with_name("_lambda_worker.py")

#: Lambda's limits: the init phase (importing the handler), and payload sizes.
INIT_TIMEOUT = 10.0
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_EVENT_REQUEST_BYTES = 256 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


def _lambda_environment(spec: FunctionSpec) -> dict[str, str]:
    """The function's variables plus those Lambda itself sets for every function."""
    kept = {k: v for k, v in os.environ.items() if k in _INHERITED or k.startswith("COV_")}
    return {
        **kept,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "LAMBDA_TASK_ROOT": spec.code_paths[0] if spec.code_paths else os.getcwd(),
        **spec.environment,
    }


class _Worker:
    """One execution environment: a ``_lambda_worker`` process, warm between calls."""

    def __init__(self, spec: FunctionSpec) -> None:
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        log = open(spec.log_path, "ab") if spec.log_path else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                # -P: the worker script's folder is not on the handler's path
                [sys.executable, "-P", str(_WORKER), str(to_child), str(from_child)],
                pass_fds=(to_child, from_child),
                env=_lambda_environment(spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            os.close(to_child)
            os.close(from_child)
            if log is not None:
                log.close()  # the child has its own descriptor
        function = {
            "name": spec.name,
            "handler": spec.handler,
            "code_paths": list(spec.code_paths),
            "memory_mb": spec.memory_mb,
        }
        write_frame(self._to_child, function)
        self._initialised = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, event: Any, timeout: float) -> tuple[bytes, str | None] | None:
        """The response, or ``None`` if the handler ran past ``timeout`` (then killed).

        A new environment first finishes its init (the handler's import) within
        ``INIT_TIMEOUT``, as Lambda's init phase has its own limit: the invocation's own
        timeout starts after it."""
        try:
            if not self._initialised:
                ready, _, _ = select.select([self._from_child], [], [], INIT_TIMEOUT)
                if not ready:
                    self.kill()
                    return _answer(
                        f"Init timed out after {INIT_TIMEOUT:.2f} seconds", "Sandbox.Timedout"
                    )
                read_frame(self._from_child)  # "ready"
                self._initialised = True
            write_frame(self._to_child, {"event": event, "timeout": timeout})
            ready, _, _ = select.select([self._from_child], [], [], timeout)
            if not ready:
                self.kill()
                return None
            answer = read_frame(self._from_child)
        except (EOFError, OSError):  # the worker died (out of memory, os._exit, a signal)
            self.kill()
            return _answer("Runtime exited before answering", "Runtime.ExitError")
        return answer["body"].encode(), answer["error"]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self._close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            write_frame(self._to_child, None)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_child = self._from_child = -1


def _answer(message: str, kind: str) -> tuple[bytes, str]:
    """A function error as Lambda's runtime reports it."""
    return json.dumps({"errorMessage": message, "errorType": kind}).encode(), "Unhandled"


class _Function:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.idle: list[_Worker] = []
        self.slots = threading.BoundedSemaphore(spec.concurrency)
        self.lock = threading.Lock()
        self.workers: list[_Worker] = []

    def invoke(self, event: Any) -> tuple[int, bytes, dict[str, str]]:
        if not self.slots.acquire(blocking=not self.spec.throttle):
            return (
                429,
                _error("TooManyRequestsException", "Rate exceeded"),
                {"x-amzn-ErrorType": "TooManyRequestsException"},
            )
        try:
            with self.lock:
                worker = self.idle.pop() if self.idle else None
            if worker is None or not worker.alive():
                worker = _Worker(self.spec)
                with self.lock:
                    self.workers.append(worker)
            outcome = worker.invoke(event, self.spec.timeout)
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            if outcome is None:
                outcome = _answer(
                    f"Task timed out after {self.spec.timeout:.2f} seconds", "Sandbox.Timedout"
                )
            elif worker.alive():
                with self.lock:
                    self.idle.append(worker)
            body, function_error = outcome
            if len(body) > MAX_RESPONSE_BYTES:
                body, function_error = _answer(
                    "Response payload size exceeded maximum allowed payload size "
                    f"({MAX_RESPONSE_BYTES} bytes).",
                    "Function.ResponseSizeTooLarge",
                )
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
        #: Event invocations accepted and not yet run to the end (Lambda's async queue).
        self._events: set[threading.Thread] = set()
        self._stopping = threading.Event()
        self._started = False
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
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def add(self, spec: FunctionSpec) -> None:
        """Serve one more function (its environment may need this endpoint's ``url``)."""
        with self._count_lock:
            self.functions[spec.name] = _Function(spec)
            self.invocations.setdefault(spec.name, 0)

    def counts(self) -> dict[str, int]:
        """A copy of ``invocations``, taken under its lock."""
        with self._count_lock:
            return dict(self.invocations)

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
        limit = MAX_EVENT_REQUEST_BYTES if kind == "Event" else MAX_REQUEST_BYTES
        if len(payload) > limit:
            return (
                413,
                _error(
                    "RequestTooLargeException",
                    f"Request must be smaller than {limit} bytes for the {kind} invocation type",
                ),
                {"x-amzn-ErrorType": "RequestTooLargeException"},
            )
        try:
            event = json.loads(payload)
        except ValueError as exc:
            return (
                400,
                _error("InvalidRequestContentException", f"Could not parse request body: {exc}"),
                {"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        if kind == "DryRun":
            return 204, b"", {}
        if kind == "Event":
            thread = threading.Thread(target=self._run_event, args=(function, event), daemon=True)
            with self._count_lock:
                self._events.add(thread)
            thread.start()
            return 202, b"", {}
        return function.invoke(event)

    def _run_event(self, function: _Function, event: Any) -> None:
        """An accepted Event invocation runs once, however long it waits for an
        environment: Lambda queues it and retries throttles (for hours; here, until
        ``stop``). The handler's failures are not retried (the template sets 0 retries)."""
        delay = 0.05
        try:
            while not self._stopping.is_set():
                status, _, _ = function.invoke(event)
                if status != 429:
                    return
                self._stopping.wait(delay)
                delay = min(delay * 2, 1.0)
        finally:
            with self._count_lock:
                self._events.discard(threading.current_thread())

    def start(self) -> LambdaEndpoint:
        self._thread.start()
        self._started = True
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving; wait up to ``timeout`` for accepted Event invocations, then stop
        every environment."""
        if self._started:
            self._server.shutdown()
            self._thread.join()
            self._started = False
        self._server.server_close()
        self._stopping.set()
        with self._count_lock:
            pending = list(self._events)
        for thread in pending:
            thread.join(timeout)
        for function in self.functions.values():
            function.stop()
