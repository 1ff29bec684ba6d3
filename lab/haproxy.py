"""HAProxy as the lab's ingress data plane: generated config, child process, runtime API.

One frontend ``ingress`` forwards to backend ``shop`` with servers ``shop-blue``,
``shop-green`` and ``shop-void`` (an internal frontend that answers ``503`` at once, as a real
ingress answers for a missing or zero-weight backend). ``balance
random(1)`` picks a server per request in proportion to its weight (0..256; 0 takes no new
requests), as ingress-nginx picks canary or main per request. Weights change through the
runtime API on a unix socket (``set weight shop/shop-green N``), with no reload. A second
frontend serves HAProxy's built-in Prometheus exporter on ``/metrics``.

Preview routes: a request whose ``preview_header`` (default ``X-Shifter-Preview``) value
is a key of the map file ``preview.map`` goes to that key's server whatever the weights
(``use-server``, which also picks a server of weight 0), as a header-matched route does in
ingress-nginx and Gateway API implementations. The lab controller fills the map through
the runtime API (``clear map``/``add map``), with no reload.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from lab.procs import Child, wait_until

BACKEND = "shop"
VOID = "void"
MAX_WEIGHT = 256


def render_config(
    *,
    ingress_port: int,
    exporter_port: int,
    servers: Mapping[str, int],
    socket_path: Path,
    release: str = "shop",
    preview_map: Path | None = None,
    preview_header: str = "X-Shifter-Preview",
) -> str:
    """The haproxy.cfg text; `servers` maps colour to the app's loopback port."""
    lines = [
        "global",
        f"    stats socket {socket_path} mode 600 level admin",
        "    stats timeout 10s",
        "    maxconn 2000",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 5s",
        "    timeout http-keep-alive 30s",
        "    timeout http-request 10s",
        "    retries 1",
        "",
        "frontend ingress",
        f"    bind 127.0.0.1:{ingress_port}",
        "    http-request deny deny_status 403 if { path_beg /-/ }",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        "    balance random(1)",
    ]
    if preview_map is not None:
        lines.append(f"    http-request set-var(txn.preview) req.hdr({preview_header}),"
                     f"map_str({preview_map},none)")
        for colour in servers:
            lines.append(f"    use-server {release}-{colour} if "
                         f"{{ var(txn.preview) -m str {release}-{colour} }}")
    for colour, port in servers.items():
        first = 256 if colour == "blue" else 0
        lines.append(f"    server {release}-{colour} 127.0.0.1:{port} weight {first}")
    lines += [
        f"    server {release}-{VOID} abns@lab-void-{ingress_port} weight 0",
        "",
        "frontend void",
        f"    bind abns@lab-void-{ingress_port}",
        "    http-request return status 503 content-type text/plain string \"no backend\\n\"",
        "",
        "frontend exporter",
        f"    bind 127.0.0.1:{exporter_port}",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    http-request return status 404",
        "",
    ]
    return "\n".join(lines)


class HAProxy:
    """An HAProxy child process with its config in `dir`."""

    def __init__(
        self,
        dir: Path,  # noqa: A002
        *,
        ingress_port: int,
        exporter_port: int,
        servers: Mapping[str, int],
        release: str = "shop",
        preview_header: str = "X-Shifter-Preview",
    ) -> None:
        self.dir = dir
        self.preview_header = preview_header
        self.preview_map = dir / "preview.map"
        self.previews: dict[str, str] = {}
        self.ingress_port = ingress_port
        self.exporter_port = exporter_port
        self.release = release
        self.servers = dict(servers)
        self.socket_path = dir / "haproxy.sock"
        self._sock_dir: tempfile.TemporaryDirectory[str] | None = None
        if len(str(self.socket_path)) > 100:  # AF_UNIX path limit is 108 bytes
            self._sock_dir = tempfile.TemporaryDirectory(prefix="lab-haproxy-")
            self.socket_path = Path(self._sock_dir.name) / "haproxy.sock"
        self.config_path = dir / "haproxy.cfg"
        self.child: Child | None = None
        self.weights: dict[str, int] = {}

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    @property
    def exporter_url(self) -> str:
        return f"http://127.0.0.1:{self.exporter_port}/metrics"

    def start(self, timeout: float = 10.0) -> None:
        """Write and check the config, start HAProxy, wait for its runtime socket."""
        self.config_path.write_text(
            render_config(
                ingress_port=self.ingress_port,
                exporter_port=self.exporter_port,
                servers=self.servers,
                socket_path=self.socket_path,
                release=self.release,
                preview_map=self.preview_map,
                preview_header=self.preview_header,
            )
        )
        self.preview_map.write_text("")
        check = subprocess.run(
            ["haproxy", "-c", "-q", "-f", str(self.config_path)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy config check failed: {check.stderr.strip()}")
        self.child = Child(
            "haproxy", ["haproxy", "-db", "-f", str(self.config_path)],
            log=self.dir / "haproxy.log",
        )
        wait_until(
            lambda: "shop" in self.command("show backend"),
            timeout=timeout, what="the HAProxy runtime socket", check=self.child.check_alive,
        )
        self.weights = {c: (256 if c == "blue" else 0) for c in self.servers}
        self.weights[VOID] = 0

    def command(self, line: str, timeout: float = 2.0) -> str:
        """Send one runtime API command and return the answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")

    def set_weights(self, weights: Mapping[str, int]) -> float:
        """Set server weights (colour or ``void`` -> 0..256); return the seconds it took.

        Raises RuntimeError when HAProxy refuses a command.
        """
        start = time.perf_counter()
        # Raise weights before lowering any: lowering first leaves a moment with every server
        # at weight 0, when HAProxy answers 503 (a flip from blue 256 to green 256 dropped a
        # request that way).
        rising = sorted(weights.items(), key=lambda kv: kv[1] <= self.weights.get(kv[0], 0))
        for colour, weight in rising:
            if not 0 <= weight <= MAX_WEIGHT:
                raise ValueError(f"weight of {colour}: expected 0..{MAX_WEIGHT}, got {weight}")
            if self.weights.get(colour) == weight:
                continue
            answer = self.command(f"set weight {BACKEND}/{self.release}-{colour} {weight}")
            if answer.strip():
                raise RuntimeError(f"haproxy refused weight {colour}={weight}: {answer.strip()}")
            self.weights[colour] = weight
        return time.perf_counter() - start

    def set_previews(self, previews: Mapping[tuple[str, str], str]) -> None:
        """Route ``(header, value)`` -> colour; headers other than ``preview_header`` raise
        ValueError (this data plane matches one header name, fixed in its config)."""
        wanted: dict[str, str] = {}
        for (header, value), colour in previews.items():
            if header.lower() != self.preview_header.lower():
                raise ValueError(f"the lab data plane routes header {self.preview_header} "
                                 f"only, not {header}")
            wanted[value] = f"{self.release}-{colour}"
        if wanted == self.previews:
            return
        for line in [f"clear map {self.preview_map}",
                     *(f"add map {self.preview_map} {v} {s}" for v, s in wanted.items())]:
            answer = self.command(line).strip()
            if answer:
                raise RuntimeError(f"haproxy refused {line!r}: {answer}")
        self.previews = wanted

    def get_weight(self, colour: str) -> int:
        """The weight HAProxy reports for a server (current weight)."""
        answer = self.command(f"get weight {BACKEND}/{self.release}-{colour}")
        return int(answer.split()[0])

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
        if self._sock_dir is not None:
            self._sock_dir.cleanup()
            self._sock_dir = None

    @property
    def pids(self) -> list[int]:
        return [self.child.pid] if self.child else []
