"""Run the real ``shifter`` CLI as a child process against a lab, and read what it said."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.core import Lab


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    @property
    def summary(self) -> dict[str, Any]:
        found = self.of("summary")
        assert found, f"no summary event; stderr:\n{self.stderr}"
        return found[-1]


def config(lab: Lab, router: str, **overrides: Any) -> dict[str, Any]:
    """A fast shift.yaml for the lab: 1 s interval, 3 s bake, 20 requests minimum, 5% errors.

    The step deadline (30 s) only costs time when a step cannot pass: a healthy step passes
    as soon as its evidence does (a p99 check needs ~45 requests without a slow one, which
    a loaded 2-core machine may not give the 10% step in 15 s)."""
    cfg: dict[str, Any] = {
        "release": lab.release, "namespace": lab.namespace, "router": {"kind": router},
        "steps": [10, 50, 100], "bake": "3s", "interval": "1s", "step_deadline": "30s",
        # 5%, not 1%: a healthy green that happens to fail one request in the ~80 it gets at
        # 10% within a short deadline cannot show a rate below 1% (docs/analysis.md: telling
        # 1% from 2% takes ~1,500 requests), so the quick lab config would revert it at the
        # deadline. The faulty greens of these tests fail 20-30% of requests.
        "analysis": {"prometheus": lab.info["prometheus_url"], "preset": "app",
                     "max_error_rate": 0.05, "max_latency_p99": "200ms", "min_requests": 20},
    }
    for key, value in overrides.items():
        if key == "analysis":
            cfg["analysis"] = {**cfg["analysis"], **value}
        else:
            cfg[key] = value
    return cfg


# For faulty-green tests, a pass needs this many requests: with 20% errors, 40 clean
# requests in a row happen with probability 0.8**40 = 1.3e-4, so a faulty green cannot pass
# its first step by luck (with the lab's quick minimum of 20 that chance is 1.2%).
STRICT = {"min_requests": 40}


def write_config(tmp_path: Path, cfg: dict[str, Any], name: str = "shift.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def command(lab: Lab, *args: str, output: str = "json") -> list[str]:
    base = [sys.executable, "-m", "shifter", *args, "--kubeconfig", lab.info["kubeconfig"]]
    if args and args[0] in ("run", "validate", "status"):
        base += ["--output", output]
    return base


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("GITHUB_STEP_SUMMARY", None)
    e["SHIFTER_LOG_LEVEL"] = "info"
    return e


def parse(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return events


def shifter(lab: Lab, *args: str, timeout: float = 120, output: str = "json") -> Result:
    proc = subprocess.run(command(lab, *args, output=output), capture_output=True, text=True,
                          timeout=timeout, env=env(), check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr, parse(proc.stdout))


class Running:
    """A ``shifter run`` in the background, its JSON events read as they come."""

    def __init__(self, lab: Lab, *args: str, log_dir: Path) -> None:
        self.out_path = log_dir / f"run-{time.monotonic_ns()}.out"
        self.err_path = self.out_path.with_suffix(".err")
        self._out = open(self.out_path, "w")  # noqa: SIM115
        self._err = open(self.err_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(command(lab, *args), stdout=self._out, stderr=self._err,
                                     env=env(), start_new_session=True)

    def events(self) -> list[dict[str, Any]]:
        return parse(self.out_path.read_text())

    def wait_for_event(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if predicate(e):
                    return e
            if self.proc.poll() is not None:
                for e in self.events():
                    if predicate(e):
                        return e
                raise AssertionError(f"shifter exited {self.proc.returncode} before the "
                                     f"event; stderr:\n{self.err_path.read_text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError("timed out waiting for an event")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 90) -> Result:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._out.close()
            self._err.close()
        return Result(code, self.out_path.read_text(), self.err_path.read_text(), self.events())

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()
        self._err.close()


def resource_versions(lab: Lab) -> dict[str, str]:
    """Every object's resourceVersion in the lab's namespace (for 'nothing changed')."""
    store = lab.apiserver.store
    out: dict[str, str] = {}
    for api_version, plural in [("v1", "services"), ("apps/v1", "deployments"),
                                ("networking.k8s.io/v1", "ingresses"),
                                ("gateway.networking.k8s.io/v1", "httproutes"),
                                ("networking.istio.io/v1", "virtualservices"),
                                ("coordination.k8s.io/v1", "leases"), ("v1", "events")]:
        for obj in store.list(api_version, plural, lab.namespace):
            out[f"{plural}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
    return out


def wait_for_split(lab: Lab, split: dict[str, float], timeout: float = 10.0) -> None:
    assert lab.controller is not None
    lab.controller.wait_for(split, timeout=timeout)


def wait_for_traffic(lab: Lab, *, since: float, requests: int, timeout: float = 15.0
                     ) -> dict[str, Any]:
    """The load generator's stats once it has recorded ``requests`` started after ``since``."""
    deadline = time.monotonic() + timeout
    while True:
        stats = lab.stats(since=since)
        if stats["total"] >= requests:
            return stats
        assert time.monotonic() < deadline, f"no traffic recorded since {since}: {stats}"
        time.sleep(0.1)
