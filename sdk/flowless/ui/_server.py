"""``flowless ui``: the pages served on 127.0.0.1 by the standard library's HTTP server.

Read-only and local: it answers GET and HEAD only, binds to the loopback address unless
told otherwise, and sends each page with headers that keep a browser from running
anything in it (a run's text is shown, never executed). On loopback it answers only
requests addressed to loopback (the ``Host`` header): a web page elsewhere that points its
own name at 127.0.0.1 (DNS rebinding) cannot read the runs through the person's browser.
One thread per request; the stores are safe to share between threads.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from flowless.ui._pages import Pages

__all__ = ["is_loopback", "make_server", "serving"]

_log = logging.getLogger("flowless.ui")

#: No script, no outside resource but http(s) images; forms only to this server.
_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class _Handler(BaseHTTPRequestHandler):
    pages: Pages
    server_version = "flowless-ui"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        url = urlsplit(self.path)
        if not self._addressed_to_us():
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "Not a loopback address")
            return
        if url.path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
            return
        try:
            status, page = self.pages.get(url.path, url.query)
        except Exception:  # a bug of ours: a page that says so, not a dropped connection
            _log.exception("flowless ui could not make the page %s", self.path)
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "See the flowless ui console")
            return
        # A lone surrogate in what a run stored cannot be UTF-8: shown as its escape.
        data = page.encode("utf-8", "backslashreplace")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", _POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _addressed_to_us(self) -> bool:
        address = self.server.server_address
        if not is_loopback(str(address[0] if isinstance(address, tuple) else address)):
            return True  # --host: the person chose who may reach it
        host = urlsplit(f"//{self.headers.get('Host', '')}").hostname or ""
        return is_loopback(host)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - %s", self.address_string(), format % args)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(pages: Pages, host: str = "127.0.0.1", port: int = 4200) -> ThreadingHTTPServer:
    """A server for ``pages`` (not started: call ``serve_forever``). Port 0 picks a free
    one (``server.server_address``)."""
    handler = type("Handler", (_Handler,), {"pages": pages})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


@contextmanager
def serving(pages: Pages, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """``pages`` served from a thread of this process while the block runs (tests, the
    benchmark, the README's screenshot): the base URL, ``http://host:port``. The caller
    keeps ``pages`` (and closes them)."""
    server = make_server(pages, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{server.server_address[0]!s}:{server.server_address[1]!s}"
    finally:
        server.shutdown()
        server.server_close()
