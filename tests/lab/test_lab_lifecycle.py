"""Starting and stopping the lab: `python -m lab up`, teardown with no process left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.core import Lab
from lab.haproxy import HAProxy
from lab.procs import pid_alive, python_env, wait_until

pytestmark = pytest.mark.lab


def _lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], env=python_env(),
                          capture_output=True, text=True, timeout=30, check=False)


def test_up_writes_lab_json_serves_stats_and_stops_on_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "up.log"
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab", "up", "--dir", str(tmp_path / "lab"),
             "--router", "gateway", "--rps", "20"],
            stdout=log, stderr=subprocess.STDOUT, env=python_env(),
        )
    try:
        wait_until(lambda: "ready in" in out.read_text(), timeout=40, interval=0.2,
                   what="`lab up` to be ready")
        info = json.loads((tmp_path / "lab" / "lab.json").read_text())
        assert {"kubeconfig", "prometheus_url", "ingress_url", "namespace", "release",
                "router"} <= set(info)
        assert (info["namespace"], info["release"], info["router"]) == ("demo", "shop", "gateway")
        assert Path(info["kubeconfig"]).is_file()
        assert info["kubeconfig"] in out.read_text()

        fault = _lab_cli("fault", "--dir", str(tmp_path / "lab"), "blue", "--latency", "5ms")
        assert fault.returncode == 0, fault.stderr
        assert json.loads(fault.stdout)["faults"]["latency"] == 0.005
        bad = _lab_cli("fault", "--dir", str(tmp_path / "lab"), "blue", "--error-rate", "2")
        assert bad.returncode == 1 and "--error-rate" in bad.stderr

        since = time.time()
        wait_until(lambda: json.loads(_lab_cli("stats", "--dir", str(tmp_path / "lab"),
                                               "--since", str(since)).stdout)["total"] > 0,
                   timeout=10, interval=0.2, what="load stats")
        stats = json.loads(_lab_cli("stats", "--dir", str(tmp_path / "lab")).stdout)
        assert stats["by_colour"]["blue"]["200"] > 0
        assert "green" not in stats["by_colour"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, out.read_text()
    assert "lab stopped" in out.read_text()
    assert info["pids"]
    assert [pid for pid in info["pids"] if pid_alive(pid)] == []


def test_start_failing_halfway_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_start(self: HAProxy, timeout: float = 10.0) -> None:
        raise RuntimeError("haproxy broke on purpose")

    monkeypatch.setattr(HAProxy, "start", broken_start)
    lab = Lab(tmp_path, router="istio", rps=5)
    with pytest.raises(RuntimeError, match="on purpose"):
        lab.start()
    assert len(lab.pids) == 3  # prometheus and the two apps had started
    assert [pid for pid in lab.pids if pid_alive(pid)] == []
    assert lab.apiserver is None


def test_prometheus_can_be_stopped_and_started_again(lab_nginx: Lab) -> None:
    lab = lab_nginx
    prom = lab.prometheus
    assert prom is not None
    old = list(prom.pids)
    prom.stop()
    assert not prom.running()
    assert [pid for pid in old if pid_alive(pid)] == []
    restarted = time.time()
    prom.start()
    prom.wait_ready()
    lab.wait_for_metrics(timeout=20, after=restarted)  # the next tests expect data again
    assert prom.running()


def test_lab_rejects_an_unknown_router(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="router"):
        Lab(tmp_path, router="traefik")
    assert os.listdir(tmp_path) == []
