"""Gates and aftercare in the lab (issue 11): an approval gate that holds a rollout with
analysis running, and the watch after the promotion that flips traffic back on a failure,
with real traffic through the router."""

from __future__ import annotations

import json
import time

import pytest

from shifter.lease import holder_of
from tests.lab.cli import Running, config, shifter, wait_for_split, write_config

pytestmark = pytest.mark.lab

GATED = [10, 50, {"weight": 100, "approve": True}]
QUICK = {"bake": "2s", "interval": "1s", "step_deadline": "15s"}


def lease_obj(lab):
    return lab.apiserver.store.get("coordination.k8s.io/v1", "leases", lab.namespace,
                                   f"shifter-{lab.release}")


def lease_state(lab):
    obj = lease_obj(lab)
    raw = ((obj or {}).get("metadata", {}).get("annotations") or {}).get("shifter.dev/state")
    return json.loads(raw) if raw else None


def start(lab, tmp_path, *extra, **overrides):
    cfg = config(lab, "gateway", **{**QUICK, **overrides})
    path = write_config(tmp_path, cfg, f"shift-{time.monotonic_ns()}.yaml")
    return Running(lab, "run", "shop", "-f", str(path), *extra, log_dir=tmp_path)


def verdicts(run):
    return [e for e in run.events() if e.get("event") == "verdict"]


def gate(e):
    return e.get("event") == "awaiting_approval"


def test_a_gate_holds_at_50_with_analysis_running_until_approve(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start(lab, tmp_path, steps=GATED)
    try:
        held = run.wait_for_event(gate)
        assert held["weight"] == 50 and held["next_weight"] == 100
        assert held["command"] == "shifter approve shop -n demo"
        wait_for_split(lab, {"blue": 50.0, "green": 50.0})
        state = lease_state(lab)
        assert state["phase"] == "awaiting_approval" and state["approval_until"]
        status = json.loads(shifter(lab, "status", "shop", "-n", "demo").stdout)
        assert status["phase"] == "awaiting_approval"
        n = len(verdicts(run))  # analysis keeps running at the gate
        run.wait_for_event(lambda e: len(verdicts(run)) >= n + 2)
        assert lab.controller is not None
        wait_for_split(lab, {"blue": 50.0, "green": 50.0})  # and the weight stays put
        ok = shifter(lab, "approve", "shop", "-n", "demo")
        assert ok.code == 0, ok.stderr
        result = run.wait(timeout=60)
    finally:
        run.kill()
    assert result.code == 0, result.stderr[-3000:]
    assert [e["weight"] for e in result.of("step")] == [10, 50, 100]
    assert [e["action"] for e in result.of("request")] == ["approve"]
    wait_for_split(lab, {"green": 100.0})


def test_a_fault_while_waiting_for_approval_still_reverts(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start(lab, tmp_path, steps=GATED)
    try:
        run.wait_for_event(gate)
        lab.fault("green", error_rate=1.0)
        result = run.wait(timeout=60)
    finally:
        run.kill()
    assert result.code == 3, result.stderr[-3000:]
    assert result.summary["outcome"] == "rolled_back"
    wait_for_split(lab, {"blue": 100.0})


def test_an_unanswered_gate_times_out_exit_4(lab_gateway, tmp_path):
    lab = lab_gateway
    result = shifter(lab, "run", "shop", "--approve-before-promote", "-f", str(write_config(
        tmp_path, config(lab, "gateway", **QUICK, steps=[10, 100], approval_timeout="3s"))))
    assert result.code == 4, result.stderr[-3000:]
    assert result.summary["reason"] == "approval timed out"
    assert [e["weight"] for e in result.of("step")] == [10]
    wait_for_split(lab, {"blue": 100.0})


def test_a_signal_during_the_watch_leaves_it_promoted(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start(lab, tmp_path, steps=[10, 100], after_promotion={"watch": "60s"})
    try:
        run.wait_for_event(lambda e: e.get("event") == "watch")
        run.signal()
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 0, result.stderr[-3000:]
    assert "cut short" in result.summary["reason"]
    wait_for_split(lab, {"green": 100.0})
    assert lease_state(lab)["phase"] == "promoted"
    assert holder_of(lease_obj(lab)) is None  # the lock is let go once the watch ends


def test_a_fault_during_the_watch_flips_traffic_back_exit_3(lab_gateway, tmp_path):
    """With watch: 30s, a fault injected 10 s after the promotion flips all traffic back
    to the old colour (still at full size) and the run exits 3; no request is lost."""
    lab = lab_gateway
    run = start(lab, tmp_path, steps=[10, 100], after_promotion={"watch": "30s"})
    try:
        watch = run.wait_for_event(lambda e: e.get("event") == "watch")
        wait_for_split(lab, {"green": 100.0})
        assert lease_state(lab)["phase"] == "watching" and lease_state(lab)["holder"]
        status = json.loads(shifter(lab, "status", "shop", "-n", "demo").stdout)
        assert status["phase"] == "watching" and status["watch_left"] > 0
        time.sleep(max(0.0, watch["time"] + 10 - time.time()))  # setup: fault at +10 s
        fault_at = time.time()
        lab.fault("green", error_rate=1.0)
        result = run.wait(timeout=60)
    finally:
        run.kill()
    assert result.code == 3, result.stderr[-3000:]
    assert result.summary["outcome"] == "rolled_back"
    assert "min after promotion" in result.summary["reason"]
    wait_for_split(lab, {"blue": 100.0})
    reverted = result.of("reverted")[0]
    ticks = [e for e in result.of("verdict") if fault_at <= e["time"] <= reverted["time"]]
    print(f"fault to reverted: {reverted['time'] - fault_at:.2f}s, {len(ticks)} ticks")
    stats = lab.stats(since=fault_at)
    assert stats["total"] > 0 and stats["by_status"].get("0", 0) == 0  # none lost
