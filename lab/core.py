"""The `Lab`: one Python API that starts and stops the whole simulation.

Used by ``python -m lab up``, the pytest fixtures and the demo::

    with Lab(Path(".lab"), router="gateway") as lab:
        print(lab.info["kubeconfig"], lab.info["prometheus_url"])
        lab.fault("green", error_rate=0.3)
        print(lab.stats())

`start()` starts Prometheus first (its first scrape comes ~5.7 s after start), then the
API emulator (TLS, in-process), the two demo apps, HAProxy, the seed, the lab controller,
a control endpoint and the load generator, and returns when Prometheus has ``rate()`` data
for both colours; only then does it write ``lab.json`` (removed again by `stop()`).
`stop()` stops all of it, also after a `start()` that failed halfway.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from lab import seed as seeding
from lab.control import ControlServer
from lab.controller import ROUTERS, LabController
from lab.deployments import Apps, DeploymentController, main_image, parse_image
from lab.haproxy import HAProxy
from lab.loadgen import LoadGen
from lab.procs import Child, free_port, pid_alive, wait_until
from lab.prometheus import Prometheus, render_config

COLOURS = ("blue", "green")


class Lab:
    """The lab: API emulator, demo apps, HAProxy, lab controller, Prometheus and load."""

    def __init__(
        self,
        dir: Path,  # noqa: A002
        *,
        router: str = "nginx",
        rps: float = 50.0,
        namespace: str = "demo",
        release: str = "shop",
        ready_timeout: float = 30.0,
    ) -> None:
        if router not in ROUTERS:
            raise ValueError(f"router: expected one of {', '.join(ROUTERS)}, got {router!r}")
        self.dir = Path(dir).resolve()
        self.router = router
        self.rps = rps
        self.namespace = namespace
        self.release = release
        self.ready_timeout = ready_timeout
        self.apiserver: Any = None
        self.prometheus: Prometheus | None = None
        self.haproxy: HAProxy | None = None
        self.controller: LabController | None = None
        self.loadgen: LoadGen | None = None
        self.control: ControlServer | None = None
        self.apps: dict[str, Child] = {}
        self.kubeconfigs: dict[str, Path] = {}
        self.app_procs: Apps | None = None
        self.deployments: DeploymentController | None = None
        self.app_ports: dict[str, int] = {}
        self.info: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self._pids: list[int] = []

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything and wait until Prometheus has data for both colours."""
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._remove_info()  # a stale lab.json would say "ready" before this lab is
        try:
            self._start(t0)
        except BaseException:
            self.stop()
            raise
        self.timings["ready"] = time.monotonic() - t0

    def _start(self, t0: float) -> None:
        self.app_ports = {c: free_port() for c in COLOURS}
        ingress_port, exporter_port, prom_port = free_port(), free_port(), free_port()
        self.prometheus = Prometheus(
            self.dir, port=prom_port,
            config=render_config(apps=self.app_ports, haproxy_exporter_port=exporter_port,
                                 namespace=self.namespace, release=self.release),
        )
        self.prometheus.start()
        self._pids += self.prometheus.pids
        self.app_procs = Apps(self.dir, self.app_ports, self.release)
        self.apps = self.app_procs.children
        for colour in self.app_ports:
            seeded = seeding.deployment(self.release, colour, self.namespace)
            self.app_procs.start(colour, parse_image(main_image(seeded)))
        from lab.apiserver import APIServer  # imported late: the heaviest import

        self.apiserver = APIServer(host="127.0.0.1", port=0, tls=True)
        self.apiserver.start()
        self.kubeconfigs = self.apiserver.write_kubeconfigs(self.dir, namespace=self.namespace,
                                                            context="lab")
        kubeconfig = self.kubeconfigs["token"]
        self.deployments = DeploymentController(self.apiserver.store, self.app_procs,
                                                namespace=self.namespace, release=self.release)
        self.deployments.hold()
        seeding.seed(self.apiserver.store, self.router, release=self.release, ns=self.namespace)
        self.timings["apiserver"] = time.monotonic() - t0
        for colour, child in self.apps.items():
            healthz = f"http://127.0.0.1:{self.app_ports[colour]}/healthz"
            wait_until(partial(_is_ok, healthz), timeout=10, what=f"the {colour} app",
                       check=child.check_alive)
        self.timings["apps"] = time.monotonic() - t0
        self.haproxy = HAProxy(self.dir, ingress_port=ingress_port, exporter_port=exporter_port,
                               servers=self.app_ports, release=self.release)
        self.haproxy.start()
        self._pids += self.haproxy.pids
        self.controller = LabController(
            self.apiserver.store, self.haproxy.set_weights, router=self.router,
            namespace=self.namespace, release=self.release,
            set_previews=self.haproxy.set_previews,
        )
        self.controller.start()
        self.deployments.start()
        self.deployments.wait_settled()
        self.controller.wait_for({"blue": 100.0}, timeout=5)
        self.loadgen = LoadGen("127.0.0.1", ingress_port, rps=self.rps)
        self.loadgen.start()
        self.control = ControlServer(self)
        self.control.start()
        self.timings["haproxy"] = time.monotonic() - t0
        self.prometheus.wait_ready(timeout=10)
        self.info = self._info(Path(kubeconfig))
        self.wait_for_metrics(timeout=max(1.0, self.ready_timeout - (time.monotonic() - t0)))
        self.info["ready_at"] = time.time()
        self._write_info()  # only now: a script that waits for lab.json finds a ready lab

    def wait_for_metrics(self, timeout: float = 30.0, *, after: float | None = None) -> None:
        """Wait until Prometheus has rate() data for both colours.

        With `after` (wall-clock seconds), the newest samples must also be newer than that
        (e.g. the time Prometheus was restarted).
        """
        prom = self.prometheus
        assert prom is not None
        want = {f"{self.release}-{c}" for c in COLOURS}
        sel = f'http_requests_total{{namespace="{self.namespace}",job="{self.release}"}}'
        rate = f"count by (service) (rate({sel}[5s]))"
        newest = f"min by (service) (timestamp({sel}))"

        def ready() -> bool:
            if not want <= set(prom.values_by(rate, "service")):
                return False
            stamps = prom.values_by(newest, "service")
            return after is None or all(stamps.get(s, 0.0) > after for s in want)

        wait_until(ready, timeout=timeout, interval=0.2,
                   what="Prometheus data for both colours", check=self._check_children)

    def _check_children(self) -> None:
        for child in self.apps.values():
            child.check_alive()
        if self.haproxy and self.haproxy.child:
            self.haproxy.child.check_alive()
        if self.prometheus and self.prometheus.child:
            self.prometheus.child.check_alive()

    def stop(self) -> None:
        """Stop every thread and process the lab started (the directory is kept)."""
        errors: list[str] = []

        def attempt(name: str, fn: Any) -> None:
            try:
                fn()
            except Exception as exc:  # keep stopping the rest
                errors.append(f"{name}: {exc}")

        if self.loadgen:
            attempt("loadgen", self.loadgen.stop)
        if self.control:
            attempt("control", self.control.stop)
        if self.controller:
            attempt("controller", self.controller.stop)
        if self.deployments:
            attempt("deployments", self.deployments.stop)
        if self.haproxy:
            attempt("haproxy", self.haproxy.stop)
        if self.app_procs:
            attempt("apps", self.app_procs.stop_all)
            self._pids += [p for p in self.app_procs.pids if p not in self._pids]
        if self.prometheus:
            attempt("prometheus", self.prometheus.stop)
        if self.apiserver is not None:
            attempt("apiserver", self.apiserver.stop)
        attempt("lab.json", self._remove_info)
        self.loadgen = self.control = self.controller = self.haproxy = None
        self.apiserver = self.deployments = self.app_procs = None
        self.apps = {}
        left = [pid for pid in self.pids if pid_alive(pid)]
        if left:
            errors.append(f"processes still alive: {left}")
        if errors:
            raise RuntimeError("lab stop: " + "; ".join(errors))

    @property
    def pids(self) -> list[int]:
        """Every child process id the lab started (also ones already stopped)."""
        pids = list(self._pids)
        if self.app_procs:
            pids += [p for p in self.app_procs.pids if p not in pids]
        if self.prometheus:
            pids += [p for p in self.prometheus.pids if p not in pids]
        return pids

    # -- info ----------------------------------------------------------------------------

    def _info(self, kubeconfig: Path) -> dict[str, Any]:
        assert self.prometheus and self.haproxy and self.control
        return {
            "kubeconfig": str(kubeconfig),
            "kubeconfigs": {k: str(p) for k, p in self.kubeconfigs.items()},
            "prometheus_url": self.prometheus.url,
            "ingress_url": self.haproxy.ingress_url,
            "namespace": self.namespace,
            "release": self.release,
            "router": self.router,
            "apiserver_url": self.apiserver.url,
            "control_url": self.control.url,
            "haproxy": {"exporter_url": self.haproxy.exporter_url,
                        "socket": str(self.haproxy.socket_path)},
            "apps": {c: {"url": f"http://127.0.0.1:{p}", "fault_url": f"http://127.0.0.1:{p}/-/fault"}
                     for c, p in self.app_ports.items()},
            "rps": self.rps,
            "pid": os.getpid(),
            "pids": self.pids,
            "started_at": time.time(),
        }

    def _write_info(self) -> None:
        """Write lab.json atomically (lab.json.tmp, then a rename)."""
        path = self.dir / "lab.json"
        tmp = self.dir / "lab.json.tmp"
        tmp.write_text(json.dumps(self.info, indent=2) + "\n")
        tmp.replace(path)

    def _remove_info(self) -> None:
        for name in ("lab.json", "lab.json.tmp"):
            (self.dir / name).unlink(missing_ok=True)

    # -- operations ----------------------------------------------------------------------

    def reseed(self, router: str) -> None:
        """Reset to the seed for `router`: faults off, router objects, Leases, Events."""
        if router not in ROUTERS:
            raise ValueError(f"router: expected one of {', '.join(ROUTERS)}, got {router!r}")
        assert self.controller is not None and self.apiserver is not None
        for colour in COLOURS:
            with contextlib.suppress(OSError):  # an app scaled to 0 has no faults to clear
                self.fault(colour, clear=True)
        self.apiserver.faults.clear()
        if self.prometheus is not None and not self.prometheus.running():
            self.prometheus.start()
        store = self.apiserver.store
        seeding.clear(store, self.release, self.namespace)
        seeding.seed(store, router, release=self.release, ns=self.namespace)
        if self.deployments is not None:
            self.deployments.wait_settled()
            for colour in COLOURS:
                wait_until(partial(_is_ok, f"http://127.0.0.1:{self.app_ports[colour]}/healthz"),
                           timeout=10, what=f"the {colour} app")
        for colour in COLOURS:
            self.fault(colour, clear=True)
        self.router = router
        self.controller.router = router
        self.controller.wait_for({"blue": 100.0}, timeout=5, fresh=True)
        if self.info:
            self.info["router"] = router
            self._write_info()

    def fault(
        self,
        colour: str,
        *,
        error_rate: float | None = None,
        latency: float | None = None,
        hang: bool | None = None,
        no_metrics: bool | None = None,
        healthz_fail: bool | None = None,
        clear: bool = False,
    ) -> dict[str, Any]:
        """Set faults on one colour's app (unset arguments keep their value)."""
        if colour not in self.app_ports:
            raise ValueError(f"colour: expected one of {', '.join(COLOURS)}, got {colour!r}")
        body = {"error_rate": error_rate, "latency": latency, "hang": hang,
                "no_metrics": no_metrics, "healthz_fail": healthz_fail, "clear": clear}
        return post_fault(f"http://127.0.0.1:{self.app_ports[colour]}/-/fault", body)

    def stats(self, since: float | None = None) -> dict[str, Any]:
        """What users saw (see `LoadGen.stats`)."""
        assert self.loadgen is not None
        return self.loadgen.stats(since)


def post_fault(url: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """POST a fault update to an app; return the app's faults after it."""
    data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        result: dict[str, Any] = json.load(resp)
    return result


def _is_ok(url: str, timeout: float = 1.0) -> bool:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return int(resp.status) == 200
