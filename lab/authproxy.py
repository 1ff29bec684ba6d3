"""A bearer-token gate in front of the lab's Prometheus, as managed Prometheus services and
auth proxies (oauth2-proxy, kube-rbac-proxy, a cloud gateway) put one.

Prometheus 2.42's own ``--web.config.file`` has TLS and basic auth but no bearer tokens,
so this small reverse proxy demands ``Authorization: Bearer <token>`` for one of the
tokens in ``tokens`` (a set, so a rotation can overlap old and new, as real issuers do)
and forwards GET requests to Prometheus. It
counts what it saw, so a test can tell that the queries did go through it.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class BearerProxy:
    """``http://127.0.0.1:<port>`` -> ``upstream``, for requests with the current token."""

    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.tokens = {token}
        self.accepted = 0
        self.rejected = 0
        self.tokens_seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802
                auth = self.headers.get("Authorization", "")
                if auth.removeprefix("Bearer ") not in outer.tokens or \
                        not auth.startswith("Bearer "):
                    outer.rejected += 1
                    self._reply(401, b'{"status":"error","error":"unauthorized"}',
                                "application/json")
                    return
                outer.accepted += 1
                outer.tokens_seen.add(auth.removeprefix("Bearer "))
                try:
                    with urllib.request.urlopen(outer.upstream + self.path, timeout=5) as up:
                        body, status = up.read(), up.status
                        ctype = up.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as exc:
                    body, status = exc.read(), exc.code
                    ctype = exc.headers.get("Content-Type", "application/json")
                except OSError:
                    self._reply(502, b"upstream unavailable", "text/plain")
                    return
                self._reply(status, body, ctype)

            def _reply(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

            def handle_error(self, *args: Any) -> None:  # a client that went away
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name="bearer-proxy")

    def start(self) -> BearerProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BearerProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
