"""Prometheus (Debian package) as a child process with a generated config.

Scrapes the two demo apps (job ``shop``, labels ``namespace``, ``colour``) and HAProxy's
exporter (job ``haproxy``) every second and evaluates every second. Prometheus 2.42 makes
its first scrape about 5.7 s after start (a fixed service-discovery delay), so the lab
starts it first. `stop()` and `start()` can be called again (same port, same TSDB), so a
test can take Prometheus away in the middle of a rollout.

`web` secures it with Prometheus's own `--web.config.file` (2.42 supports TLS and
`basic_auth_users` with bcrypt hashes; it has no bearer-token auth): see `WebSecurity`.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.procs import Child, wait_until


def render_config(
    *, apps: Mapping[str, int], haproxy_exporter_port: int, namespace: str, release: str
) -> dict[str, Any]:
    """The prometheus.yml content; `apps` maps colour to the app's port."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": release,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{port}"],
                        "labels": {"namespace": namespace, "colour": colour,
                                   "pod": f"{release}-{colour}-0"},
                    }
                    for colour, port in apps.items()
                ],
            },
            {
                "job_name": "haproxy",
                "static_configs": [{"targets": [f"127.0.0.1:{haproxy_exporter_port}"],
                                    "labels": {"namespace": namespace}}],
            },
        ],
    }


@dataclass(frozen=True)
class WebSecurity:
    """TLS (server certificate and key files, PEM) and one basic-auth user."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    username: str
    password: str

    def web_config(self) -> dict[str, Any]:
        import bcrypt

        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
        return {"tls_server_config": {"cert_file": str(self.cert_file),
                                      "key_file": str(self.key_file)},
                "basic_auth_users": {self.username: hashed}}

    def headers(self) -> dict[str, str]:
        pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}


class Prometheus:
    """A Prometheus child process listening on 127.0.0.1:`port`."""

    def __init__(self, dir: Path, *, port: int, config: dict[str, Any],  # noqa: A002
                 web: WebSecurity | None = None) -> None:
        self.dir = dir
        self.port = port
        self.config_path = dir / "prometheus.yml"
        self.data_dir = dir / "prometheus-data"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.web = web
        self.web_config_path = dir / "web.yml"
        if web is not None:
            self.web_config_path.write_text(yaml.safe_dump(web.web_config()))
        self.child: Child | None = None
        self._old_pids: list[int] = []

    @property
    def url(self) -> str:
        return f"{'https' if self.web else 'http'}://127.0.0.1:{self.port}"

    def _open(self, url: str, timeout: float) -> Any:
        request = urllib.request.Request(url, headers=self.web.headers() if self.web else {})
        context = (ssl.create_default_context(cafile=str(self.web.ca_file))
                   if self.web else None)
        return urllib.request.urlopen(request, timeout=timeout, context=context)

    def start(self) -> None:
        """Start the process (returns at once; see `wait_ready`)."""
        if self.child is not None and self.child.alive():
            return
        self.data_dir.mkdir(exist_ok=True)
        self.child = Child(
            "prometheus",
            [
                "prometheus",
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
                *([f"--web.config.file={self.web_config_path}"] if self.web else []),
            ],
            log=self.dir / "prometheus.log",
        )

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait for /-/ready (not for the first scrape)."""
        child = self.child
        if child is None:
            raise RuntimeError("prometheus is not started")
        wait_until(
            lambda: self._status(f"{self.url}/-/ready", 0.5) == 200,
            timeout=timeout, what="Prometheus /-/ready", check=child.check_alive,
        )

    def stop(self) -> None:
        if self.child is not None:
            self._old_pids.append(self.child.pid)
            self.child.stop(timeout=10.0)
            self.child = None

    def running(self) -> bool:
        return self.child is not None and self.child.alive()

    def query(self, promql: str, timeout: float = 2.0) -> list[dict[str, Any]]:
        """An instant query's result vector (raises on an error answer)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with self._open(url, timeout) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise RuntimeError(f"query failed: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def values_by(self, promql: str, label: str) -> dict[str, float]:
        """Run a query and map each series' `label` to its value."""
        return {
            s["metric"].get(label, ""): float(s["value"][1]) for s in self.query(promql)
        }

    def _status(self, url: str, timeout: float) -> int:
        with self._open(url, timeout) as resp:
            return int(resp.status)

    @property
    def pids(self) -> list[int]:
        return self._old_pids + ([self.child.pid] if self.child else [])
