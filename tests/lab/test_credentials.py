"""shifter with the three kinds of credentials users have: a bearer token, a client
certificate (kind, kubeadm) and an exec plugin (EKS, GKE, OIDC helpers), in the lab.

Each test runs a rollout that is aborted from another shell, reads `status`, and checks
from the emulator's request log that every request of both processes was authenticated
with that credential (the lab's users: admin, lab-admin from the certificate's CN,
lab-exec from the plugin's token).
"""

from __future__ import annotations

import time

import pytest

from tests.lab.cli import shifter, wait_for_split
from tests.lab.test_controls import first_step, lease_state, start_run

pytestmark = pytest.mark.lab

USERS = {"token": "admin", "client-certificate": "lab-admin", "exec": "lab-exec"}


@pytest.fixture(params=list(USERS))
def credential_lab(request: pytest.FixtureRequest, lab_gateway):  # type: ignore[no-untyped-def]
    """The gateway lab with `lab.info["kubeconfig"]` pointing at one kind of kubeconfig."""
    lab = lab_gateway
    token_kubeconfig = lab.info["kubeconfig"]
    lab.info["kubeconfig"] = lab.info["kubeconfigs"][request.param]
    lab.apiserver.requests.clear()
    try:
        yield lab, request.param
    finally:
        lab.info["kubeconfig"] = token_kubeconfig


def _users(lab) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.user for r in lab.apiserver.requests if not r.path.startswith("/lab/")}


def test_rollout_status_and_abort_with_each_credential(credential_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lab, kind = credential_lab
    run = start_run(lab, tmp_path)
    try:
        run.wait_for_event(first_step)
        wait_for_split(lab, {"blue": 90.0, "green": 10.0})
        status = shifter(lab, "status", "shop", "-n", "demo")
        assert status.code == 0, status.stderr
        ctl = shifter(lab, "abort", "shop", "-n", "demo", "--wait", "20s")
        assert ctl.code == 0, ctl.stderr
        wait_for_split(lab, {"blue": 100.0}, timeout=10)
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4, result.stderr
    assert result.summary["outcome"] == "aborted"
    assert lease_state(lab)["phase"] == "aborted"
    assert _users(lab) == {USERS[kind]}, kind


def test_a_rollout_to_the_end_with_a_client_certificate(lab_gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A whole promotion (every write path: weights, Lease, Events) with mTLS only."""
    from tests.lab.cli import config, write_config

    lab = lab_gateway
    token_kubeconfig = lab.info["kubeconfig"]
    lab.info["kubeconfig"] = lab.info["kubeconfigs"]["client-certificate"]
    lab.apiserver.requests.clear()
    try:
        path = write_config(tmp_path, config(lab, "gateway", bake="2s"))
        t0 = time.monotonic()
        result = shifter(lab, "run", "shop", "-f", str(path))
    finally:
        lab.info["kubeconfig"] = token_kubeconfig
    assert result.code == 0, result.stderr
    assert result.summary["outcome"] == "promoted", time.monotonic() - t0
    assert _users(lab) == {"lab-admin"}
    writes = {r.method for r in lab.apiserver.requests if r.status < 300}
    assert {"PATCH", "POST"} <= writes
