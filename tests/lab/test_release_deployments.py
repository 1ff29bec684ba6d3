"""The lab's Deployment model (pure parts) and the API server's Deployment strategy."""

from __future__ import annotations

import pytest

from lab.apiserver.resources import resolve
from lab.apiserver.strategy import prepare_for_update
from lab.deployments import STEP, Sim, parse_image


@pytest.mark.parametrize(("image", "err", "lat", "crash"), [
    ("shop:v2", 0.0, 0.0, False),
    ("registry.lab:5000/shop:v3-err20", 0.2, 0.0, False),
    ("shop:v5-slow300ms", 0.0, 0.3, False),
    ("shop:v6-slow2s", 0.0, 2.0, False),
    ("shop:v4-crashloop", 0.0, 0.0, True),
    ("shop:v7-err5-slow100ms", 0.05, 0.1, False),
    ("shop", 0.0, 0.0, False),
])
def test_image_tag_decides_the_behaviour(image, err, lat, crash):
    v = parse_image(image)
    assert (v.error_rate, v.latency, v.crashloop) == (err, lat, crash)


def conditions(status):
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_healthy_rollout_moves_replica_by_replica_to_new_replicaset_available():
    sim = Sim("shop-green", 3, "abc", parse_image("shop:v2"), 2, started=0.0, deadline=15,
              old_ready=2)
    before = sim.status(0.1)
    assert before["observedGeneration"] == 3 and before["updatedReplicas"] == 1
    assert conditions(before)["Progressing"] == ("True", "ReplicaSetUpdated")
    sim.healthy_at = 0.5
    mid = sim.status(0.5)
    assert mid["readyReplicas"] == 2 and mid["updatedReplicas"] == 2 and mid["replicas"] == 3
    done = sim.status(0.5 + STEP)
    assert (done["replicas"], done["updatedReplicas"], done["readyReplicas"],
            done["availableReplicas"]) == (2, 2, 2, 2)
    assert conditions(done) == {"Available": ("True", "MinimumReplicasAvailable"),
                                "Progressing": ("True", "NewReplicaSetAvailable")}


def test_crashloop_never_becomes_ready_and_exceeds_its_progress_deadline():
    sim = Sim("shop-blue", 2, "abc", parse_image("shop:v4-crashloop"), 2, started=0.0,
              deadline=15, old_ready=2)
    early = sim.status(5.0)
    assert early["updatedReplicas"] == 1 and early["readyReplicas"] == 2
    assert conditions(early)["Progressing"] == ("True", "ReplicaSetUpdated")
    late = sim.status(16.0)
    assert conditions(late)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    assert "has timed out progressing" in late["conditions"][1]["message"]


def test_scaled_to_zero_reports_no_replicas():
    sim = Sim("shop-blue", 4, "abc", parse_image("shop:v2"), 0, started=0.0, deadline=15)
    st = sim.status(1.0)
    assert st == {"observedGeneration": 4, "conditions": st["conditions"]}
    assert conditions(st)["Available"] == ("True", "MinimumReplicasAvailable")


def _deployment(annotations=None, image="a", replicas=2):
    return {"metadata": {"name": "d", "generation": 5, "annotations": annotations or {}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "app", "image": image}]}}}}


def test_deployment_strategy_bumps_generation_on_spec_or_annotations_only():
    # kubernetes pkg/registry/apps/deployment/strategy.go, PrepareForUpdate
    rt = resolve("apps/v1", "deployments")
    for new, gen in [(_deployment(image="b"), 6), (_deployment(replicas=3), 6),
                     (_deployment(annotations={"x": "1"}), 6), (_deployment(), 5)]:
        prepare_for_update(rt, new, _deployment())
        assert new["metadata"]["generation"] == gen
    labelled = _deployment()
    labelled["metadata"]["labels"] = {"x": "1"}
    prepare_for_update(rt, labelled, _deployment())
    assert labelled["metadata"]["generation"] == 5
