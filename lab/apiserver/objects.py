"""Object helpers: server-set metadata, built-in defaults, Deployment status, comparisons."""

from __future__ import annotations

import copy
import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType

_NAME_CHARS = string.ascii_lowercase + string.digits


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_metadata(obj: dict[str, Any], rt: ResourceType, namespace: str) -> None:
    """Set what the server sets on create (uid, creationTimestamp, name from generateName)."""
    meta = obj.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(
            secrets.choice(_NAME_CHARS) for _ in range(5))
    if rt.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    meta.pop("resourceVersion", None)
    meta.pop("deletionTimestamp", None)
    if rt.generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)


def carry_metadata(new: dict[str, Any], old: dict[str, Any], rt: ResourceType) -> None:
    """On update: keep what a client cannot change, bump generation on spec changes."""
    meta = new.setdefault("metadata", {})
    old_meta = old["metadata"]
    for key in ("uid", "creationTimestamp", "name", "namespace"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    meta["resourceVersion"] = old_meta.get("resourceVersion", "")
    if rt.generation:
        gen = int(old_meta.get("generation", 1))
        meta["generation"] = gen + 1 if spec_of(new) != spec_of(old) else gen


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that counts as spec for generation (not metadata, status, type)."""
    return {k: v for k, v in obj.items()
            if k not in ("metadata", "status", "apiVersion", "kind")}


def without_rv(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = {k: v for k, v in obj.get("metadata", {}).items()
                       if k != "resourceVersion"}
    return out


def apply_builtin_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """The defaults of the real server that shifter's objects see."""
    spec = obj.get("spec")
    if rt.kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": "25%", "maxUnavailable": "25%"}})
    elif rt.kind == "Service" and rt.group == "" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
    elif rt.kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}


def ready_status(obj: dict[str, Any]) -> dict[str, Any]:
    """The status a Deployment controller reports once the rollout is complete."""
    replicas = int((obj.get("spec") or {}).get("replicas", 1))
    now = now_rfc3339()
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability.",
             "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": "ReplicaSet has successfully progressed.",
             "lastUpdateTime": now, "lastTransitionTime": now},
        ],
    }


def view(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A deep copy of a stored object as served in one version."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    out["kind"] = kind
    return out
