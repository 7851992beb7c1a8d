"""``flowless ui``: the pages served on 127.0.0.1 by the standard library's HTTP server.

Read-only and local: it answers GET and HEAD only, binds to the loopback address unless
told otherwise, and sends each page with headers that keep a browser from running
anything in it (a run's text is shown, never executed). One thread per request; the
stores are safe to share between threads.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from flowless.ui._pages import Pages

__all__ = ["make_server"]

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
        if url.path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
            return
        status, page = self.pages.get(url.path, url.query)
        data = page.encode("utf-8", "surrogateescape")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", _POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - %s", self.address_string(), format % args)


def make_server(pages: Pages, host: str = "127.0.0.1", port: int = 4200) -> ThreadingHTTPServer:
    """A server for ``pages`` (not started: call ``serve_forever``). Port 0 picks a free
    one (``server.server_address``)."""
    handler = type("Handler", (_Handler,), {"pages": pages})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
