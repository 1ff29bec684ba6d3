"""`python -m lab up` writes lab.json only when the lab is ready (issue 12): a script that
waits for the file finds Prometheus with data for both colours at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from lab.procs import python_env

pytestmark = pytest.mark.lab


def _colours_with_data(prometheus_url: str) -> set[str]:
    query = 'count by (service) (rate(http_requests_total{job="shop"}[5s]))'
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        result = json.load(resp)["data"]["result"]
    return {r["metric"]["service"] for r in result}


def test_lab_json_appears_only_when_prometheus_has_both_colours(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    (lab_dir / "lab.json").write_text('{"stale": true}\n')  # from an earlier run
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lab", "up", "--dir", str(lab_dir),
                                 "--router", "gateway", "--rps", "20"],
                                stdout=out, stderr=subprocess.STDOUT, env=python_env())
    try:
        deadline = time.monotonic() + 60
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            path = lab_dir / "lab.json"
            try:
                info = json.loads(path.read_text())
            except (FileNotFoundError, ValueError):
                info = None
            if info is not None and "stale" not in info:
                break
            time.sleep(0.02)
        assert info is not None and "stale" not in info, log.read_text()
        colours = _colours_with_data(info["prometheus_url"])  # at once, no waiting
        assert colours == {"shop-blue", "shop-green"}
        assert info["ready_at"] <= time.time()
        assert set(info["kubeconfigs"]) == {"token", "client-certificate", "exec"}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, log.read_text()
    assert not (lab_dir / "lab.json").exists()
