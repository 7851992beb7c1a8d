"""One execution environment of the local Lambda: imports a handler once, then answers
invocations one at a time, like Lambda's runtime loop.

Started by ``lambda_endpoint`` as its own program (``python _lambda_worker.py R W``), not
through ``multiprocessing``: spawning would re-import the caller's ``__main__``, which a
script without an ``if __name__ == "__main__"`` guard cannot survive. Frames on the two
file descriptors are a 4-byte big-endian length and a JSON body; stdout and stderr stay
the function's log, as on Lambda.

The first frame is the function (``handler``, ``code_paths``, ``name``, ``memory_mb``);
the worker answers ``"ready"`` once the handler is imported (or failed to be); each next
frame is ``{"event": ..., "timeout": seconds}``, answered with
``{"body": <response JSON text>, "error": null | "Unhandled"}``. A frame of ``null`` ends it.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
import uuid
from typing import Any

_HEADER = struct.Struct(">I")


def read_frame(fd: int) -> Any:
    """The next frame's JSON value; EOFError if the other end has closed."""
    header = _read_exactly(fd, _HEADER.size)
    return json.loads(_read_exactly(fd, _HEADER.unpack(header)[0]))


def write_frame(fd: int, value: Any) -> None:
    body = json.dumps(value).encode()
    data = _HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class _Context:
    """What a handler's ``context`` argument offers (what powertools reads)."""

    def __init__(self, name: str, memory_mb: int, deadline: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(read_fd: int, write_fd: int) -> None:
    function = read_frame(read_fd)
    sys.path[:0] = function["code_paths"]
    module_name, _, attribute = function["handler"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # Lambda answers every invocation with the import error
        traceback.print_exc()
        import_error = json.dumps(
            {
                "errorMessage": f"Unable to import module '{module_name}': {exc}",
                "errorType": "Runtime.ImportModuleError",
            }
        )
        handler = None
    write_frame(write_fd, "ready")  # the init phase is over
    while True:
        try:
            message = read_frame(read_fd)
        except EOFError:
            return
        if message is None:
            return
        if handler is None:
            write_frame(write_fd, {"body": import_error, "error": "Unhandled"})
            continue
        deadline = time.monotonic() + message["timeout"]
        context = _Context(function["name"], function["memory_mb"], deadline)
        try:
            answer = {"body": json.dumps(handler(message["event"], context)), "error": None}
        except BaseException as exc:  # what Lambda reports for an unhandled error
            body = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_exception(exc),
            }
            answer = {"body": json.dumps(body), "error": "Unhandled"}
        sys.stdout.flush()
        sys.stderr.flush()
        write_frame(write_fd, answer)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
