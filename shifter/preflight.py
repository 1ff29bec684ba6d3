"""Checks made before any traffic moves; each failure is one clear line and changes nothing."""

from __future__ import annotations

from typing import Any

from shifter.analysis.analyzer import Analyzer
from shifter.errors import InvalidInput, NotFound
from shifter.kube.client import KubeClient, ObjectRef
from shifter.routers.base import Colour, Target


def deployment_ready(obj: dict[str, Any]) -> tuple[bool, str]:
    """Fully rolled out and ready, as ``kubectl rollout status`` judges it."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    want = int(spec.get("replicas", 1))
    gen, seen = int(meta.get("generation") or 0), int(status.get("observedGeneration") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or ready)
    total = int(status.get("replicas") or 0)
    if seen < gen:
        return False, f"generation {gen} not yet observed (observed {seen})"
    if updated < want:
        return False, f"{updated} of {want} replicas updated"
    if total > updated:
        return False, f"{total - updated} old replicas still terminating"
    if ready < want or available < want:
        return False, f"{ready} of {want} replicas ready"
    if want == 0:
        return False, "scaled to 0 replicas"
    return True, f"{ready}/{want} ready"


def check_deployment(client: KubeClient, namespace: str, name: str, colour: Colour) -> str:
    ref = ObjectRef("apps/v1", "deployments", "Deployment", name, namespace)
    try:
        obj = client.get(ref)
    except NotFound:
        raise InvalidInput(f"deployments.{colour.value}: Deployment {namespace}/{name} "
                           f"not found") from None
    ok, why = deployment_ready(obj)
    if not ok:
        raise InvalidInput(f"deployments.{colour.value}: Deployment {namespace}/{name} is "
                           f"not ready: {why}")
    return why


def check_services(client: KubeClient, target: Target) -> None:
    for colour in Colour:
        name = target.service(colour)
        try:
            client.get(ObjectRef("v1", "services", "Service", name, target.namespace))
        except NotFound:
            raise InvalidInput(f"services.{colour.value}: Service {target.namespace}/{name} "
                               f"not found") from None


def check_queries(analyzer: Analyzer) -> int:
    """Every query parses and returns data for the live colour."""
    return len(analyzer.preflight())
