"""The CLI against the API emulator: exit codes of status and the control commands,
kubectl's flag positions, KUBECONFIG merging and one-line connection errors.

Runs in-process (Typer's CliRunner) with a kubeconfig for the emulator; Leases are
written straight into the emulator's store, as a run would have left them.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from typer.testing import CliRunner

from lab.apiserver import APIServer
from shifter.cli.app import app
from shifter.lease import now_micro

pytestmark = pytest.mark.contract

runner = CliRunner()


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    structlog.reset_defaults()


def shifter(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env={"KUBERNETES_SERVICE_HOST": "", **(env or {})})


def lease(apiserver: APIServer, release: str, state: dict[str, Any], *,
          holder: str | None = None, ns: str = "demo") -> None:
    spec: dict[str, Any] = {"leaseDurationSeconds": 15}
    if holder:
        spec.update(holderIdentity=holder, renewTime=now_micro(), acquireTime=now_micro())
    apiserver.store.create({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": f"shifter-{release}", "namespace": ns,
                     "annotations": {"shifter.dev/state": json.dumps(state)}},
        "spec": spec})


STATE = {"phase": "rolled_back", "step": 1, "steps": [10, 50, 100], "weight": 0,
         "new": "green", "live": "blue", "reason": "error rate 20% > 1%",
         "history": [{"step": 1, "weight": 50, "verdict": "fail", "reason": "error rate"}]}


def errors(result) -> list[str]:
    return [x for x in result.output.splitlines() if x.startswith("error:")]


# -- status: 0 with a record, 1 without, --wait returns the rollout's exit code -----------

def test_status_of_a_release_with_no_record_exits_1_with_one_line(apiserver, kubeconfig):
    result = shifter("status", "nosuch", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 1, result.output
    assert errors(result) == ['error: release "nosuch" not found in namespace demo: no '
                              'rollout is recorded (no Lease shifter-nosuch)']


def test_status_in_the_wrong_namespace_exits_1(apiserver, kubeconfig):
    lease(apiserver, "shop", STATE)
    assert shifter("status", "shop", "--kubeconfig", str(kubeconfig)).exit_code == 0
    result = shifter("status", "shop", "-n", "default", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 1 and "namespace default" in result.output


def test_status_of_a_rolled_back_release_exits_0_and_says_so(apiserver, kubeconfig):
    lease(apiserver, "shop", STATE)
    result = shifter("status", "shop", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["phase"] == "rolled_back"
    assert data["last_verdicts"][0]["step"] == 2  # 1-based, as the text says


def test_status_yaml_output(apiserver, kubeconfig):
    lease(apiserver, "shop", STATE)
    result = shifter("status", "shop", "--kubeconfig", str(kubeconfig), "-o", "yaml")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["phase"] == "rolled_back"


@pytest.mark.parametrize("phase,code", [("promoted", 0), ("rolled_back", 3), ("aborted", 4),
                                        ("held", 4), ("failed", 5)])
def test_status_wait_exits_with_the_rollouts_exit_code(apiserver, kubeconfig, phase, code):
    lease(apiserver, "shop", {**STATE, "phase": phase})
    result = shifter("status", "shop", "--wait", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == code, result.output


def test_status_wait_times_out_with_exit_5(apiserver, kubeconfig):
    lease(apiserver, "shop", {**STATE, "phase": "shifting"}, holder="job-1/7/abc")
    t0 = time.monotonic()
    result = shifter("status", "shop", "--wait", "--timeout", "1s",
                     "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 5, result.output
    assert "timed out after 1s waiting for the rollout of shop" in result.output
    assert time.monotonic() - t0 < 30  # it did give up (the bound is loose on purpose)


def test_status_wait_sees_the_rollout_finish(apiserver, kubeconfig):
    import threading

    lease(apiserver, "shop", {**STATE, "phase": "shifting"}, holder="job-1/7/abc")

    def finish() -> None:
        obj = apiserver.store.get("coordination.k8s.io/v1", "leases", "demo", "shifter-shop")
        assert obj is not None
        obj["metadata"]["annotations"]["shifter.dev/state"] = json.dumps(
            {**STATE, "phase": "promoted"})
        apiserver.store.put(obj)

    timer = threading.Timer(1.0, finish)
    timer.start()
    try:
        result = shifter("status", "shop", "--wait", "--timeout", "1m",
                         "--kubeconfig", str(kubeconfig))
    finally:
        timer.cancel()
    assert result.exit_code == 0, result.output


# -- control commands: non-zero when the request was not acted on --------------------------

def test_pause_with_no_run_holding_the_release_exits_5(apiserver, kubeconfig):
    lease(apiserver, "shop", {**STATE, "phase": "shifting"})
    result = shifter("pause", "shop", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 5, result.output
    assert "not acted on: no run holds shop" in result.output


def test_a_request_the_run_does_not_act_on_in_time_exits_5(apiserver, kubeconfig):
    lease(apiserver, "shop", {**STATE, "phase": "shifting"}, holder="job-1/7/abc")
    result = shifter("promote", "shop", "--wait", "1s", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 5, result.output
    assert errors(result) == ["error: promote: not acted on within 1s by job-1/7/abc; the "
                              "request stays recorded"]


def test_control_of_an_unknown_release_exits_1(apiserver, kubeconfig):
    result = shifter("abort", "nosuch", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 1 and "not found" in result.output


def test_abort_of_a_rolled_back_release_is_done_already(apiserver, kubeconfig):
    lease(apiserver, "shop", {**STATE, "router": {"kind": "nginx"}})
    result = shifter("abort", "shop", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 0 and "nothing to do" in result.output


def test_abort_of_a_promoted_release_exits_2(apiserver, kubeconfig):
    lease(apiserver, "shop", {**STATE, "phase": "promoted", "router": {"kind": "nginx"}})
    result = shifter("abort", "shop", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 2 and "already promoted" in result.output


# -- kubectl conventions ------------------------------------------------------------------

def test_kube_flags_work_before_the_command(apiserver, kubeconfig):
    lease(apiserver, "shop", STATE, ns="default")
    result = shifter("-n", "default", "--kubeconfig", str(kubeconfig), "status", "shop")
    assert result.exit_code == 0, result.output
    assert "default/shop" in result.output


def test_flags_after_the_command_win(apiserver, kubeconfig):
    lease(apiserver, "shop", STATE)
    result = shifter("-n", "default", "--kubeconfig", str(kubeconfig), "status", "shop",
                     "-n", "demo")
    assert result.exit_code == 0 and "demo/shop" in result.output


def test_kubeconfig_list_is_merged_as_kubectl_does(apiserver, kubeconfig, tmp_path):
    # client-go clientcmd/loader.go: missing files are skipped, empty files add nothing,
    # the first file to set a value (current-context, a named context) wins.
    lease(apiserver, "shop", STATE)
    empty = tmp_path / "empty"
    empty.write_text("")
    other = tmp_path / "other"
    other.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "elsewhere",
        "contexts": [{"name": "elsewhere", "context": {"cluster": "x", "user": "x"}}],
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "x", "user": {"token": "t"}}]}))
    listed = ":".join([str(empty), str(tmp_path / "missing"), str(kubeconfig), str(other)])
    result = shifter("status", "shop", env={"KUBECONFIG": listed})
    assert result.exit_code == 0, result.output
    # a context from the second file can be chosen too
    result = shifter("status", "shop", "--context", "elsewhere", env={"KUBECONFIG": listed})
    assert result.exit_code == 5 and "cannot reach the Kubernetes API" in result.output


def test_no_kubeconfig_at_all_is_one_clear_line(tmp_path):
    result = shifter("status", "shop", env={"KUBECONFIG": "", "HOME": str(tmp_path)})
    assert result.exit_code == 2
    assert errors(result) and "no Kubernetes credentials" in errors(result)[0]
    assert "KUBERNETES_SERVICE_HOST is not set" in errors(result)[0]
    assert len(errors(result)) == 1


def test_a_missing_context_is_one_line_naming_those_there_are(apiserver, kubeconfig):
    result = shifter("status", "shop", "--kubeconfig", str(kubeconfig), "--context", "prod")
    assert result.exit_code == 2
    assert errors(result) == [f"error: kubeconfig: context 'prod' (--context) not found in "
                              f"--kubeconfig {kubeconfig} (contexts: lab)"]


def test_an_unreachable_server_is_one_line_exit_5(apiserver, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = apiserver.write_kubeconfig(tmp_path / "k", namespace="demo")
    data = yaml.safe_load(cfg.read_text())
    data["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    Path(cfg).write_text(yaml.safe_dump(data))
    result = shifter("status", "shop", "--kubeconfig", str(cfg))
    assert result.exit_code == 5, result.output
    assert len(errors(result)) == 1
    assert f"cannot reach the Kubernetes API at https://127.0.0.1:{port}" in errors(result)[0]


def test_status_wait_on_a_rollout_nobody_runs_any_more_exits_5(apiserver, kubeconfig,
                                                                monkeypatch):
    from shifter.cli import status

    monkeypatch.setattr(status, "STALLED_AFTER", 1)
    lease(apiserver, "shop", {**STATE, "phase": "shifting"})  # no holder
    result = shifter("status", "shop", "--wait", "--kubeconfig", str(kubeconfig),
                     env={"SHIFTER_LEASE_SECONDS": "2"})  # stalled after 1 x 2 s
    assert result.exit_code == 5, result.output
    assert "no run has held it for" in result.output and "shifter run" in result.output
