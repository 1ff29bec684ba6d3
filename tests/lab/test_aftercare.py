"""Gates and aftercare in the lab (issue 11): an approval gate that holds a rollout with
analysis running, and the watch after the promotion that flips traffic back on a failure,
with real traffic through the router."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest

from lab.procs import wait_until
from shifter.lease import holder_of
from shifter.schemas import events_schema
from tests.lab.cli import (
    Running,
    config,
    resource_versions,
    shifter,
    wait_for_split,
    write_config,
)

pytestmark = pytest.mark.lab

GATED = [10, 50, {"weight": 100, "approve": True}]
QUICK = {"bake": "2s", "interval": "1s", "step_deadline": "30s"}


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


def assert_schema(events):
    """Every event of the run, the new ones included, is the documented schema."""
    validator = jsonschema.Draft202012Validator(events_schema())
    assert events
    for event in events:
        assert [e.message for e in validator.iter_errors(event)] == [], event


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
    assert_schema(result.events)
    wait_for_split(lab, {"green": 100.0})


def test_an_unanswered_gate_times_out_exit_4(lab_gateway, tmp_path):
    # Before the fault test: right after a 100%-error fault on green, a few of green's next
    # requests can still fail, and this rollout must pass its first step to reach the gate.
    lab = lab_gateway
    result = shifter(lab, "run", "shop", "--approve-before-promote", "-f", str(write_config(
        tmp_path, config(lab, "gateway", **QUICK, steps=[10, 100], approval_timeout="3s"))))
    assert result.code == 4, result.stderr[-3000:]
    assert result.summary["reason"] == "approval timed out"
    assert [e["weight"] for e in result.of("step")] == [10]
    wait_for_split(lab, {"blue": 100.0})


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


def test_a_signal_during_the_watch_leaves_it_promoted(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start(lab, tmp_path, steps=[50, 100], bake="1s", after_promotion={"watch": "60s"})
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
    run = start(lab, tmp_path, steps=[50, 100], bake="1s", after_promotion={"watch": "30s"})
    try:
        watch = run.wait_for_event(lambda e: e.get("event") == "watch")
        wait_for_split(lab, {"green": 100.0})
        assert lease_state(lab)["phase"] == "watching" and lease_state(lab)["holder"]
        status = json.loads(shifter(lab, "status", "shop", "-n", "demo").stdout)
        assert status["phase"] == "watching" and status["watch_left"] > 0
        waiting = Running(lab, "status", "shop", "-n", "demo", "--wait", log_dir=tmp_path)
        time.sleep(max(0.0, watch["time"] + 10 - time.time()))  # setup: fault at +10 s
        fault_at = time.time()
        lab.fault("green", error_rate=1.0)
        result = run.wait(timeout=60)
        waited = waiting.wait(timeout=30)  # status --wait returns the rollout's exit code
    finally:
        run.kill()
        waiting.kill()
    assert result.code == 3, result.stderr[-3000:]
    assert waited.code == 3, waited.stderr
    assert result.summary["outcome"] == "rolled_back"
    assert "min after promotion" in result.summary["reason"]
    assert_schema(result.events)
    wait_for_split(lab, {"blue": 100.0})
    reverted = result.of("reverted")[0]
    ticks = [e for e in result.of("verdict") if fault_at <= e["time"] <= reverted["time"]]
    print(f"fault to reverted: {reverted['time'] - fault_at:.2f}s, {len(ticks)} ticks")
    stats = lab.stats(since=fault_at)
    assert stats["total"] > 0 and stats["by_status"].get("0", 0) == 0  # none lost


# -- undo and scale-down ----------------------------------------------------------------------

def deployment(lab, colour):
    return lab.apiserver.store.get("apps/v1", "deployments", lab.namespace, f"shop-{colour}")


def promote(lab, tmp_path, **overrides):
    result = shifter(lab, "run", "shop", "-f", str(write_config(
        tmp_path, config(lab, "gateway", **{**QUICK, "steps": [50, 100], "bake": "1s",
                                             **overrides}),
        f"shift-{time.monotonic_ns()}.yaml")))
    assert result.code == 0, result.stderr[-3000:]
    wait_for_split(lab, {"green": 100.0})
    return result


def test_undo_after_a_promotion_puts_all_traffic_back_and_the_next_run_goes_back(
        lab_gateway, tmp_path):
    lab = lab_gateway
    promote(lab, tmp_path)
    undo = shifter(lab, "undo", "shop", "-n", "demo")
    assert undo.code == 0, undo.stderr
    wait_for_split(lab, {"blue": 100.0}, timeout=1.0)  # the write is made when undo exits
    state = lease_state(lab)
    assert state["phase"] == "undone" and state["live"] == "blue"
    assert holder_of(lease_obj(lab)) is None
    events = lab.apiserver.store.list("v1", "events", lab.namespace)
    assert any(e.get("reason") == "Undone" for e in events)
    again = shifter(lab, "undo", "shop", "-n", "demo")
    assert again.code == 2 and "not promoted" in again.stderr  # nothing to undo now
    nxt = promote(lab, tmp_path)  # blue -> green again
    assert nxt.summary["new"] == "green"


def test_undo_while_a_run_holds_the_release_exits_6(lab_gateway, tmp_path):
    lab = lab_gateway
    run = start(lab, tmp_path, steps=[50, 100], bake="1s", after_promotion={"watch": "60s"})
    try:
        run.wait_for_event(lambda e: e.get("event") == "watch")
        held = shifter(lab, "undo", "shop", "-n", "demo")
        assert held.code == 6, held.stderr
        run.signal()
        assert run.wait(timeout=30).code == 0
    finally:
        run.kill()
    wait_for_split(lab, {"green": 100.0})


def test_scale_down_after_the_watch_then_undo_brings_the_old_colour_back(
        lab_gateway, tmp_path):
    """scale_down: 2s with watch: 3s: the run scales blue to 0 before it exits (blue's app
    stops); undo scales it back to its count, waits for it, then moves traffic."""
    lab = lab_gateway
    before = int(deployment(lab, "blue")["spec"]["replicas"])
    result = promote(lab, tmp_path, after_promotion={"watch": "3s", "scale_down": "2s"})
    assert_schema(result.events)
    scaled = result.of("scale")
    assert scaled and scaled[0]["deployment"] == "shop-blue" and scaled[0]["replicas"] == 0
    assert deployment(lab, "blue")["spec"]["replicas"] == 0
    care = lease_state(lab)["aftercare"]
    assert care["done"] and care["replicas"] == before
    assert lab.deployments is not None
    deadline = time.monotonic() + 10
    while lab.app_procs.alive("blue"):  # a colour scaled to 0 serves nothing
        assert time.monotonic() < deadline, "blue still running after its scale-down"
        time.sleep(0.1)
    refused = shifter(lab, "undo", "shop", "-n", "demo", "--no-wait")
    assert refused.code == 2 and "not ready" in refused.stderr
    assert lease_state(lab)["phase"] == "promoted"  # nothing changed
    undo = shifter(lab, "undo", "shop", "-n", "demo")
    assert undo.code == 0, undo.stderr
    assert deployment(lab, "blue")["spec"]["replicas"] == before
    wait_for_split(lab, {"blue": 100.0}, timeout=1.0)
    assert lab.app_procs.alive("blue")


def test_a_scale_down_due_later_is_recorded_and_done_by_cleanup(lab_gateway, tmp_path):
    lab = lab_gateway
    promote(lab, tmp_path, after_promotion={"scale_down": "2s"})
    care = lease_state(lab)["aftercare"]
    assert care["deployment"] == "shop-blue" and not care["done"]
    assert deployment(lab, "blue")["spec"]["replicas"] > 0
    early = shifter(lab, "cleanup", "shop", "-n", "demo")
    assert early.code == 0 and "due in" in early.stdout
    time.sleep(max(0.0, care["due"] - time.time()))  # setup: let it fall due
    done = shifter(lab, "cleanup", "shop", "-n", "demo")
    assert done.code == 0, done.stderr
    assert deployment(lab, "blue")["spec"]["replicas"] == 0
    assert lease_state(lab)["aftercare"]["done"]


# -- a run killed during its watch (issue 11/13: resume from every phase) ---------------------

def watching(e):
    return e.get("event") == "watch"


def killed_while_watching(lab, tmp_path, monkeypatch, **after):
    """A run promoted and watching, killed -9; its lease (2 s) then expires."""
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    cfg = write_config(tmp_path, config(lab, "gateway", **{**QUICK, "bake": "1s"},
                                        steps=[50, 100], after_promotion=after), "watched.yaml")
    run = Running(lab, "run", "shop", "-f", str(cfg), log_dir=tmp_path)
    try:
        run.wait_for_event(watching)
        wait_for_split(lab, {"green": 100.0})
    finally:
        run.kill()
    state = lease_state(lab)
    assert state["phase"] == "watching" and state["watch_until"]
    assert state["analysis"] and all(c["baseline"]["service"] == "shop-blue"
                                     for c in state["analysis"].values())
    wait_until(lambda: holder_of(lease_obj(lab)) is None, timeout=10, interval=0.1,
               what="the killed run's lease to expire")
    return cfg, state


def test_a_run_killed_during_the_watch_finishes_it_when_the_watch_is_over(
        lab_gateway, tmp_path, monkeypatch):
    """The next run starts after the watch ended: promoted, exit 0, and the scale-down
    that fell due is done as an unbroken run does it."""
    lab = lab_gateway
    cfg, before = killed_while_watching(lab, tmp_path, monkeypatch, watch="4s",
                                        scale_down="1s")
    wait_until(lambda: time.time() > before["watch_until"], timeout=10, interval=0.1,
               what="the end of the watch")
    versions = resource_versions(lab)
    other = shifter(lab, "run", "shop", "-f", str(cfg), "--image", "app=shop:v2")
    assert other.code == 2 and "recorded as watching its promotion" in other.stderr
    assert resource_versions(lab) == versions  # another release: refused, nothing changed
    result = shifter(lab, "run", "shop", "-f", str(cfg))
    assert result.code == 0, result.stderr[-3000:]
    assert result.summary["outcome"] == "promoted"
    assert not result.of("step") and not result.of("promote") and not result.of("revert")
    assert "ran out while no run was watching" in result.summary["reason"]
    scaled = result.of("scale")
    assert scaled and scaled[0]["deployment"] == "shop-blue" and scaled[0]["replicas"] == 0
    assert_schema(result.events)
    wait_for_split(lab, {"green": 100.0})
    after = lease_state(lab)
    assert after["phase"] == "promoted" and after["aftercare"]["done"]
    assert holder_of(lease_obj(lab)) is None


def test_a_run_killed_during_the_watch_is_resumed_and_a_fault_still_flips_back(
        lab_gateway, tmp_path, monkeypatch):
    lab = lab_gateway
    cfg, before = killed_while_watching(lab, tmp_path, monkeypatch, watch="30s")
    again = Running(lab, "run", "shop", "-f", str(cfg), log_dir=tmp_path)
    try:
        resumed = again.wait_for_event(watching)
        assert 0 < resumed["seconds"] < 30 and resumed["resumed"] is True
        status = json.loads(shifter(lab, "status", "shop", "-n", "demo").stdout)
        assert status["phase"] == "watching" and 0 < status["watch_left"] < 30
        assert status["holder"]
        n = len(verdicts(again))  # the resumed watch judges green
        again.wait_for_event(lambda e: len(verdicts(again)) >= n + 1)
        lab.fault("green", error_rate=1.0)
        result = again.wait(timeout=60)
    finally:
        again.kill()
    assert result.code == 3, result.stderr[-3000:]
    assert result.summary["outcome"] == "rolled_back"
    assert "min after promotion" in result.summary["reason"]
    assert not result.of("step") and not result.of("promote")  # no weight set forward
    assert result.of("revert")[0]["cause"] == "watch"
    assert_schema(result.events)
    wait_for_split(lab, {"blue": 100.0})
    after = lease_state(lab)
    assert after["phase"] == "rolled_back" and after["rollout"] == before["rollout"]
    assert abs(after["promoted_at"] - before["promoted_at"]) < 0.05  # the same promotion
    assert ({k: c["baseline"] for k, c in after["analysis"].items()}  # the same baseline
            == {k: c["baseline"] for k, c in before["analysis"].items()})
