"""``kubectl shift ...`` works as a kubectl plugin (kubectl-shift on PATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.contract

BIN = Path(sys.executable).parent


def kubectl(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(home)}
    return subprocess.run([str(BIN / "kubectl"), *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_kubectl_finds_the_plugin(tmp_path):
    listed = kubectl("plugin", "list", home=tmp_path)
    assert str(BIN / "kubectl-shift") in listed.stdout


def test_kubectl_shift_runs_shifter_with_its_own_name(tmp_path):
    out = kubectl("shift", "--help", home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Usage: kubectl shift" in out.stdout


def test_kubectl_shift_passes_exit_codes_through(tmp_path):
    out = kubectl("shift", "run", "shop", "--steps", "50,10", home=tmp_path)
    assert out.returncode == 2
    assert "steps: expected strictly increasing" in out.stderr


def test_kubectl_shift_takes_kubectl_flags_before_the_subcommand(tmp_path, apiserver,
                                                                 kubeconfig):
    import json

    apiserver.store.create({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "shifter-shop", "namespace": "default", "annotations": {
            "shifter.dev/state": json.dumps({"phase": "promoted", "steps": [100],
                                             "step": 0, "new": "green", "live": "blue"})}},
        "spec": {"leaseDurationSeconds": 15}})
    out = kubectl("shift", "-n", "default", "--kubeconfig", str(kubeconfig), "status", "shop",
                  home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "default/shop" in out.stdout
    missing = kubectl("shift", "--kubeconfig", str(kubeconfig), "status", "nosuch",
                      home=tmp_path)
    assert missing.returncode == 1 and 'release "nosuch" not found' in missing.stderr


def test_kubectl_shift_completion_prints_a_script(tmp_path):
    out = kubectl("shift", "completion", "bash", home=tmp_path)
    assert out.returncode == 0 and "complete " in out.stdout
