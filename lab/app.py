"""Demo backend: one colour of the `shop` release, with faults switchable at run time.

Run as a child process::

    python -m lab.app --colour blue --service shop-blue --port 8081 [--image shop:v2
        --error-rate 0.2 --latency 0.3]

``--image`` names the version the app runs (the lab's Deployment controller starts it
from the Deployment's image, see ``lab.deployments``); ``--error-rate`` and ``--latency``
are that version's own behaviour, on top of any fault set at run time.

Endpoints:

- ``GET /`` (any path not listed below): ``200`` with a body naming the colour and the
  image, and the headers ``X-Colour`` and ``X-Version`` (the image); subject to the faults.
- ``GET /healthz``: ``200``, or ``500`` while the ``healthz_fail`` fault is set.
- ``GET /metrics``: prometheus-client metrics ``http_requests_total{service,code}`` and the
  ``http_request_duration_seconds{service}`` histogram; ``503`` while ``no_metrics`` is set.
- ``GET /-/fault``: the current faults as JSON; ``POST /-/fault`` with a JSON object sets
  some of ``error_rate`` (0..1), ``latency`` (seconds), ``hang`` (bool), ``no_metrics``
  (bool), ``healthz_fail`` (bool); ``{"clear": true}`` clears them all first.
  HAProxy refuses ``/-/`` paths, so faults are only reachable on the app's own port.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0)
HANG_LIMIT = 120.0  # a hung request is released after this long at the latest


@dataclass
class Faults:
    """Faults of one app; every field off by default."""

    error_rate: float = 0.0
    latency: float = 0.0
    hang: bool = False
    no_metrics: bool = False
    healthz_fail: bool = False

    def update(self, data: dict[str, Any]) -> None:
        """Apply a JSON update; raise ValueError naming the bad field."""
        if data.get("clear"):
            for name, value in asdict(Faults()).items():
                setattr(self, name, value)
        for name in ("error_rate", "latency"):
            if data.get(name) is not None:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
                if name == "error_rate" and value > 1:
                    raise ValueError(f"error_rate: expected a fraction 0..1, got {value!r}")
                setattr(self, name, float(value))
        for name in ("hang", "no_metrics", "healthz_fail"):
            if data.get(name) is not None:
                if not isinstance(data[name], bool):
                    raise ValueError(f"{name}: expected true or false, got {data[name]!r}")
                setattr(self, name, data[name])


class App:
    """State shared by the request handlers: faults and metrics."""

    def __init__(self, colour: str, service: str, *, image: str = "",
                 error_rate: float = 0.0, latency: float = 0.0) -> None:
        self.colour = colour
        self.service = service
        self.image = image
        self.base_error_rate = error_rate
        self.base_latency = latency
        self.faults = Faults()
        self.lock = threading.Lock()
        self.unhang = threading.Condition(self.lock)
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests served.", ["service", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds", "HTTP request duration.", ["service"],
            buckets=BUCKETS, registry=self.registry,
        )
        for code in ("200", "500"):
            self.requests.labels(service=service, code=code)
        self.duration.labels(service=service)

    def set_faults(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.faults.update(data)
            self.unhang.notify_all()
            return asdict(self.faults)

    def get_faults(self) -> dict[str, Any]:
        with self.lock:
            return asdict(self.faults)

    def wait_while_hung(self) -> None:
        deadline = time.monotonic() + HANG_LIMIT
        with self.lock:
            while self.faults.hang and time.monotonic() < deadline:
                self.unhang.wait(0.5)


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler; quiet."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LabServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            if app.get_faults()["no_metrics"]:
                self._send(503, b"metrics disabled by fault\n")
            else:
                self._send(200, generate_latest(app.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            failing = app.get_faults()["healthz_fail"]
            self._send(500 if failing else 200, b"fail\n" if failing else b"ok\n")
        elif path == "/-/fault":
            self._send(200, json.dumps(app.get_faults()).encode(), "application/json")
        else:
            self._serve_page()

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != "/-/fault":
            self._serve_page()
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(data, dict):
                raise ValueError("body: expected a JSON object")
            faults = self.server.app.set_faults(data)
        except ValueError as exc:
            self._send(400, f"{exc}\n".encode())
            return
        self._send(200, json.dumps(faults).encode(), "application/json")

    def _serve_page(self) -> None:
        app = self.server.app
        start = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        faults = app.get_faults()
        if faults["hang"]:
            app.wait_while_hung()
        latency = faults["latency"] + app.base_latency
        if latency > 0:
            time.sleep(latency)
        failed = any(rate > 0 and random.random() < rate
                     for rate in (faults["error_rate"], app.base_error_rate))
        code = 500 if failed else 200
        version = f" {app.image}" if app.image else ""
        body = (f"{'error from' if failed else 'hello from'} {app.colour} ({app.service})"
                f"{version}\n")
        app.requests.labels(service=app.service, code=str(code)).inc()
        app.duration.labels(service=app.service).observe(time.perf_counter() - start)
        headers = {"X-Colour": app.colour}
        if app.image:
            headers["X-Version"] = app.image
        self._send(code, body.encode(), headers=headers)


class LabServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that keeps quiet about clients that go away."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.app", description=__doc__)
    parser.add_argument("--colour", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--image", default="")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    app = App(args.colour, args.service, image=args.image, error_rate=args.error_rate,
              latency=args.latency)
    server = LabServer((args.host, args.port), app)

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"ready {args.colour} on {args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
