"""Rollout Events on the router object, as ``kubectl describe`` finds them (field selectors)."""

from __future__ import annotations

import pytest

from lab.apiserver import samples
from shifter.kevents import EventRecorder
from shifter.kube import ObjectRef, load_client

pytestmark = pytest.mark.contract


def ingress(name: str = "shop") -> dict:
    obj = samples.ingress(name)
    obj["metadata"]["namespace"] = "demo"
    return obj


def test_kubectl_describe_shows_shifters_events(apiserver, kubeconfig, kubectl):
    apiserver.store.create(ingress())
    client = load_client(kubeconfig=str(kubeconfig))
    ref = ObjectRef("networking.k8s.io/v1", "ingresses", "Ingress", "shop", "demo")
    recorder = EventRecorder(client, ref, identity="test/1")
    recorder.record("StepStarted", "step 1/3: 10% of traffic on shop-green")
    recorder.record("Reverted", "all traffic back on shop-blue", warning=True)
    out = kubectl("describe", "ingress", "shop", "-n", "demo")
    assert out.returncode == 0, out.stderr
    events = out.stdout.split("Events:", 1)[1]
    assert "StepStarted" in events and "10% of traffic on shop-green" in events
    assert "Warning" in events and "Reverted" in events


def test_event_field_selectors(apiserver, kubeconfig, kubectl):
    apiserver.store.create(ingress())
    client = load_client(kubeconfig=str(kubeconfig))
    ref = ObjectRef("networking.k8s.io/v1", "ingresses", "Ingress", "shop", "demo")
    EventRecorder(client, ref, identity="t").record("Promoted", "done")
    other = ObjectRef("networking.k8s.io/v1", "ingresses", "Ingress", "other", "demo")
    EventRecorder(client, other, identity="t").record("Promoted", "elsewhere")
    found = client.list(ObjectRef("v1", "events", "Event", "", "demo"))
    assert len(found) == 2
    sel = client.request("GET", "/api/v1/namespaces/demo/events",
                         query={"fieldSelector": "involvedObject.name=shop,reason=Promoted"})
    assert [e["message"] for e in sel["items"]] == ["done"]
    bad = kubectl("get", "services", "-n", "demo", "--field-selector", "reason=x")
    assert bad.returncode != 0 and "not a known field selector" in bad.stderr
