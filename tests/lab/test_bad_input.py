"""Malformed input through the real CLI against the lab: exit 2, one line naming the field,
and nothing in the cluster touched (issue 13, defect 10).

Before the fix a bad ``notify`` section was found only after the Lease was written, and
the YAML cases ended in a traceback (exit 1) or ate gigabytes. Every case here is refused
before shifter sends a single request to the API server: the emulator records none.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab.core import Lab
from tests.lab.cli import config, env, resource_versions
from tests.unit.test_bad_input import billion_laughs

pytestmark = pytest.mark.lab


def _valid(lab: Lab) -> dict:
    return config(lab, "gateway")


CASES = {
    "notify: unknown event": (lambda c: {**c, "notify": [{"url": "http://127.0.0.1:9/h",
                                                         "events": ["stepp"]}]},
                              "notify[0].events"),
    "notify: url_env not set": (lambda c: {**c, "notify": [{"url_env": "NO_SUCH_HOOK_ENV"}]},
                                "notify[0].url_env"),
    "smoke: unknown placeholder": (lambda c: {**c, "smoke": [{"url": "http://{svc}/"}]},
                                   "smoke[0].url"),
    "bake: [1]": (lambda c: {**c, "bake": [1]}, "bake"),
    "interval: .nan": (lambda c: {**c, "interval": float("nan")}, "interval"),
    "max_latency_p99: 500": (lambda c: {**c, "analysis": {**c["analysis"],
                                                          "max_latency_p99": 500}},
                             "analysis.max_latency_p99"),
}
TEXTS = {
    "billion laughs": (billion_laughs(), "f"),  # where the expansion crosses the limit
    "duplicate key": ("release: shop\nbake: 3s\nbake: 5s\n", "bake"),
    "deeply nested": ("release: shop\nsteps: " + "[" * 10_000 + "]" * 10_000 + "\n", "steps"),
}


def _run(lab: Lab, path: Path, kubeconfig: str | None = None) -> subprocess.CompletedProcess:
    e = env()
    e.pop("NO_SUCH_HOOK_ENV", None)
    cmd = [sys.executable, "-m", "shifter", "run", "shop", "-f", str(path), "--kubeconfig",
           kubeconfig or lab.info["kubeconfig"], "--output", "json"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=e, check=False)


def _assert_refused(proc: subprocess.CompletedProcess, field: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", list(CASES) + list(TEXTS))
def test_bad_config_touches_nothing(case: str, lab_gateway: Lab, tmp_path: Path) -> None:
    lab = lab_gateway
    path = tmp_path / "shift.yaml"
    if case in CASES:
        change, field = CASES[case]
        path.write_text(yaml.safe_dump(change(_valid(lab))))
    else:
        text, field = TEXTS[case]
        path.write_text(text)
    before = resource_versions(lab)
    lab.apiserver.requests.clear()
    proc = _run(lab, path)
    _assert_refused(proc, field)
    assert lab.apiserver.requests.snapshot() == []  # not even a read
    assert resource_versions(lab) == before


@pytest.mark.parametrize("text", ["apiVersion: v1\nclusters: [\n", "- a\n- b\n",
                                  "users: *nope\n"])
def test_bad_kubeconfig_is_one_line(text: str, lab_gateway: Lab, tmp_path: Path) -> None:
    lab = lab_gateway
    path = tmp_path / "shift.yaml"
    path.write_text(yaml.safe_dump(_valid(lab)))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(text)
    proc = _run(lab, path, str(kubeconfig))
    _assert_refused(proc, "kubeconfig")
