"""Operator controls and crash safety, from other processes, in the lab (issue 4)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.lab.cli import Running, config, resource_versions, shifter, wait_for_split, write_config

pytestmark = pytest.mark.lab

SLOW = {"bake": "30s", "step_deadline": "60s"}  # a step that stays put while we poke it


def lease_state(lab):
    obj = lab.apiserver.store.get("coordination.k8s.io/v1", "leases", lab.namespace,
                                  f"shifter-{lab.release}")
    if obj is None:
        return None
    raw = (obj["metadata"].get("annotations") or {}).get("shifter.dev/state")
    return json.loads(raw) if raw else None


def start_run(lab, tmp_path, router="gateway", *extra, **overrides):
    cfg = config(lab, router, **{**SLOW, **overrides})
    path = write_config(tmp_path, cfg, f"shift-{time.monotonic_ns()}.yaml")
    return Running(lab, "run", "shop", "-f", str(path), *extra, log_dir=tmp_path)


def first_step(e):
    return e.get("event") == "step" and e.get("weight") == 10


def test_abort_from_another_shell_reverts_within_seconds(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start_run(lab, tmp_path)
    try:
        run.wait_for_event(first_step)
        wait_for_split(lab, {"blue": 90.0, "green": 10.0})
        t0 = time.monotonic()
        ctl = shifter(lab, "abort", "shop", "-n", "demo", "--wait", "20s")
        assert ctl.code == 0, ctl.stderr
        wait_for_split(lab, {"blue": 100.0}, timeout=10)
        print(f"abort command to weight 0 on green: {time.monotonic() - t0:.2f}s")
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4, result.stderr
    assert result.summary["outcome"] == "aborted"
    assert any(e["event"] == "request" and e["action"] == "abort" for e in result.events)
    assert lease_state(lab)["phase"] == "aborted"


def test_pause_resume_and_promote(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start_run(lab, tmp_path)
    try:
        run.wait_for_event(first_step)
        assert shifter(lab, "pause", "shop", "-n", "demo").code == 0
        run.wait_for_event(lambda e: e.get("event") == "request" and e["action"] == "pause")
        status = shifter(lab, "status", "shop", "-n", "demo")
        assert status.code == 0, status.stderr
        state = json.loads(status.stdout)
        assert state["phase"] == "paused" and state["weight"] == 10 and state["holder"]
        assert state["router_now"] == {"blue": 90, "green": 10}  # read from the cluster
        assert state["at_step_for"]
        # analysis keeps running while paused
        n = len([e for e in run.events() if e.get("event") == "verdict"])
        run.wait_for_event(lambda e: e.get("event") == "verdict" and
                           len([x for x in run.events() if x.get("event") == "verdict"]) > n)
        assert shifter(lab, "resume", "shop", "-n", "demo").code == 0
        run.wait_for_event(lambda e: e.get("event") == "request" and e["action"] == "resume")
        assert shifter(lab, "promote", "--full", "shop", "-n", "demo").code == 0
        result = run.wait(timeout=60)
    finally:
        run.kill()
    assert result.code == 0, result.stderr
    assert result.summary["outcome"] == "promoted"
    # promoted from the first step: the remaining steps were skipped
    assert [e["weight"] for e in result.of("step")] == [10]
    wait_for_split(lab, {"green": 100.0})


def test_two_concurrent_runs_one_proceeds_the_other_exits_6(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start_run(lab, tmp_path)
    try:
        run.wait_for_event(first_step)
        second = shifter(lab, "run", "shop", "-f",
                         str(write_config(tmp_path, config(lab, "gateway"), "other.yaml")))
        assert second.code == 6, second.stderr
        assert "held by" in second.stderr
        state = lease_state(lab)
        assert state["phase"] == "shifting" and state["step"] == 0
        run.signal(signal.SIGTERM)
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4


def test_sigterm_mid_step_reverts_and_records_why(lab_nginx, tmp_path):
    lab = lab_nginx
    run = start_run(lab, tmp_path, "nginx")
    try:
        run.wait_for_event(first_step)
        wait_for_split(lab, {"blue": 90.0, "green": 10.0})
        run.signal(signal.SIGTERM)
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4, result.stderr
    wait_for_split(lab, {"blue": 100.0})
    state = lease_state(lab)
    assert state["phase"] == "aborted" and "signal" in state["reason"]


def test_on_interrupt_hold_leaves_the_weight_and_releases_the_lock(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start_run(lab, tmp_path, "gateway", "--on-interrupt", "hold")
    try:
        run.wait_for_event(first_step)
        run.signal(signal.SIGINT)
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4
    state = lease_state(lab)
    assert state["phase"] == "held" and "hold" in state["reason"]
    assert lab.controller.split.get("green") == 10.0
    status = json.loads(shifter(lab, "status", "shop", "-n", "demo").stdout)
    assert status["holder"] is None


def test_kill_9_then_run_again_resumes_at_the_same_step(lab_gateway, tmp_path, monkeypatch):
    lab = lab_gateway
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    run = start_run(lab, tmp_path, "gateway", bake="3s")
    run.wait_for_event(lambda e: e.get("event") == "step" and e.get("weight") == 50)
    run.kill()
    state = lease_state(lab)
    assert state["phase"] == "shifting" and state["step"] == 1
    # the lock frees itself once the lease expires; until then a new run exits 6
    deadline = time.monotonic() + 15
    while True:
        again = shifter(lab, "run", "shop", "-f",
                        str(write_config(tmp_path, config(lab, "gateway", bake="3s"), "r.yaml")))
        if again.code != 6 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert again.code == 0, again.stderr
    assert any(e.get("check") == "resume" for e in again.of("preflight"))
    assert [e["weight"] for e in again.of("step")] == [50, 100]
    wait_for_split(lab, {"green": 100.0})


def test_api_faults_during_a_rollout_do_not_break_it(lab_nginx, tmp_path):
    lab = lab_nginx
    store = lab.apiserver.store
    ing = store.get("networking.k8s.io/v1", "ingresses", lab.namespace, "shop")
    ing["metadata"].setdefault("annotations", {})["team.example/owner"] = "payments"
    store.put(ing)
    lab.apiserver.faults.set(resource="ingresses", verbs="write", conflicts=3)
    lab.apiserver.faults.set(resource="leases", error_rate=0.15, error_code=500)
    lab.apiserver.faults.set(resource="ingresses", verbs="read", error_rate=0.15,
                             error_code=429)
    lab.apiserver.faults.set(latency=0.05)
    try:
        result = shifter(lab, "run", "shop", "-f", str(write_config(
            tmp_path, config(lab, "nginx", bake="2s"))))
    finally:
        lab.apiserver.faults.clear()
    assert result.code == 0, result.stderr[-3000:]
    wait_for_split(lab, {"green": 100.0})
    ing = store.get("networking.k8s.io/v1", "ingresses", lab.namespace, "shop")
    assert ing["metadata"]["annotations"]["team.example/owner"] == "payments"


def test_prometheus_stopped_mid_rollout_is_never_promoted(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start_run(lab, tmp_path, "gateway", bake="2s", step_deadline="6s")
    try:
        run.wait_for_event(first_step)
        lab.prometheus.stop()
        result = run.wait(timeout=60)
    finally:
        run.kill()
        lab.prometheus.start()
        lab.wait_for_metrics(timeout=30)
    assert result.code == 3, result.stderr
    assert result.of("step")[-1]["weight"] < 100
    assert "Prometheus" in result.summary["reason"] or "deadline" in result.summary["reason"]
    wait_for_split(lab, {"blue": 100.0})


class Receiver:
    """A webhook receiver on loopback recording what it got."""

    def __init__(self):
        self.bodies = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/s3cr3t-token"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_webhooks_in_order_and_url_never_printed(lab_gateway, tmp_path, monkeypatch):
    lab = lab_gateway
    hook = Receiver()
    try:
        monkeypatch.setenv("HOOK_URL", hook.url)
        cfg = config(lab, "gateway", bake="2s",
                     notify=[{"url_env": "HOOK_URL", "format": "json"}])
        result = shifter(lab, "run", "shop", "-f", str(write_config(tmp_path, cfg)))
        assert result.code == 0, result.stderr
        events = [b["event"] for b in hook.bodies]
        assert events == ["started", "step", "step", "step", "promoted"]
        assert [b.get("weight") for b in hook.bodies if b["event"] == "step"] == [10, 50, 100]
    finally:
        hook.close()
    assert "s3cr3t-token" not in result.stdout + result.stderr


def test_failing_smoke_check_changes_nothing(lab_gateway, tmp_path):
    lab = lab_gateway
    lab.fault("green", healthz_fail=True)
    url = lab.info["apps"]["green"]["url"] + "/healthz"
    cfg = config(lab, "gateway", smoke=[{"name": "healthz", "url": url, "retries": 1}])
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(write_config(tmp_path, cfg)), output="text")
    assert result.code == 3, result.stderr
    assert "healthz" in result.stderr
    after = resource_versions(lab)
    # the Lease is taken and released around pre-flight; no router object changed
    assert {k: v for k, v in after.items() if not k.startswith("leases/")} == {
        k: v for k, v in before.items() if not k.startswith("leases/")}
    assert lab.controller.split.get("blue") == 100.0


def test_abort_with_no_live_holder_reverts_itself(lab_gateway, tmp_path, monkeypatch):
    lab = lab_gateway
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    run = start_run(lab, tmp_path, "gateway")
    run.wait_for_event(first_step)
    run.kill()
    wait_for_split(lab, {"blue": 90.0, "green": 10.0})
    deadline = time.monotonic() + 10
    while lease_state(lab) and time.monotonic() < deadline:
        status = json.loads(shifter(lab, "status", "shop", "-n", "demo").stdout)
        if status["holder"] is None:
            break
        time.sleep(0.3)
    result = shifter(lab, "abort", "shop", "-n", "demo")
    assert result.code == 0, result.stderr
    assert "reverted" in result.stdout
    wait_for_split(lab, {"blue": 100.0})
    assert lease_state(lab)["phase"] == "aborted"
    assert os.environ["SHIFTER_LEASE_SECONDS"] == "2"


def test_a_second_sigint_while_reverting_does_not_stop_the_revert(lab_gateway, tmp_path):
    lab = lab_gateway
    lab.apiserver.faults.set(resource="httproutes", verbs="write", latency=0.5)
    run = start_run(lab, tmp_path)
    try:
        run.wait_for_event(first_step)
        run.signal(signal.SIGINT)
        run.wait_for_event(lambda e: e.get("event") == "revert")
        run.signal(signal.SIGINT)  # lands while the (slowed) revert write is in flight
        result = run.wait(timeout=30)
    finally:
        run.kill()
        lab.apiserver.faults.clear()
    assert result.code == 4, result.stderr
    assert result.of("reverted"), result.stderr
    wait_for_split(lab, {"blue": 100.0})
