"""The control endpoint of a running lab (for `python -m lab stats` and scripts).

Loopback HTTP, JSON answers:

- ``GET /stats[?since=T]``: the load generator's stats (`since` = wall-clock seconds);
- ``GET /split``: the split the lab controller last programmed, in percent;
- ``GET /info``: what ``lab.json`` holds.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        lab = self.server.lab
        try:
            if url.path == "/stats":
                since = float(query["since"][0]) if "since" in query else None
                self._json(200, lab.stats(since))
            elif url.path == "/split":
                self._json(200, dict(lab.controller.split) if lab.controller else {})
            elif url.path == "/info":
                self._json(200, lab.info)
            else:
                self._json(404, {"error": f"no such endpoint: {url.path}"})
        except ValueError as exc:
            self._json(400, {"error": f"since: expected seconds since the epoch ({exc})"})

    def _json(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class ControlServer:
    """Serves a `Lab`'s stats on a loopback port, in a thread."""

    def __init__(self, lab: Any) -> None:
        self._server = _Server(lab)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name="lab-control", daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
