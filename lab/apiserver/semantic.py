"""Semantic checks the real API server makes beyond the OpenAPI schema (names, ports, ...)."""

from __future__ import annotations

from typing import Any

from . import meta as meta_checks
from .resources import ResourceType

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")

Cause = dict[str, str]


def _invalid(field: str, value: Any, why: str) -> Cause:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return {"reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {shown}: {why}"}


def _required(field: str) -> Cause:
    return {"reason": "FieldValueRequired", "field": field, "message": "Required value"}


def _port(field: str, value: Any, causes: list[Cause]) -> None:
    if isinstance(value, int) and not 1 <= value <= 65535:
        causes.append(_invalid(field, value, "must be between 1 and 65535, inclusive"))


def check(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """Causes of a 422 Invalid for `obj` (empty when valid)."""
    causes: list[Cause] = []
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [_required("metadata.name")]
    causes.extend(meta_checks.check_metadata(rt, meta))
    if rt.kind == "Event":
        causes.extend(meta_checks.check_event(rt, obj))
    spec = obj.get("spec")
    if rt.kind == "Lease" and isinstance(spec, dict):
        causes.extend(meta_checks.check_lease(spec))
    if not isinstance(spec, dict):
        return causes
    if rt.kind == "Service" and rt.group == "":
        _service(spec, causes)
    elif rt.kind == "Deployment":
        _deployment(spec, causes)
    elif rt.kind == "Ingress":
        _ingress(spec, causes)
    return causes


def _service(spec: dict[str, Any], causes: list[Cause]) -> None:
    for i, port in enumerate(spec.get("ports") or []):
        if not isinstance(port, dict):
            continue
        _port(f"spec.ports[{i}].port", port.get("port", 0), causes)  # ValidateService
        _port(f"spec.ports[{i}].targetPort", port.get("targetPort"), causes)
        _port(f"spec.ports[{i}].nodePort", port.get("nodePort"), causes)


def _deployment(spec: dict[str, Any], causes: list[Cause]) -> None:
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        causes.append(_invalid("spec.replicas", replicas,
                               "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not isinstance(selector, dict):
        causes.append(_required("spec.selector"))
    else:
        wanted = selector.get("matchLabels") or {}
        if isinstance(wanted, dict) and any(labels.get(k) != v for k, v in wanted.items()):
            causes.append(_invalid("spec.template.metadata.labels", labels,
                                   "`selector` does not match template `labels`"))
    pod = template.get("spec") or {}
    containers = pod.get("containers")
    if not containers:
        causes.append(_required("spec.template.spec.containers"))
        return
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            continue
        base = f"spec.template.spec.containers[{i}]"
        if not c.get("image"):
            causes.append(_required(f"{base}.image"))
        for j, port in enumerate(c.get("ports") or []):
            if isinstance(port, dict):
                _port(f"{base}.ports[{j}].containerPort", port.get("containerPort"), causes)


def _ingress(spec: dict[str, Any], causes: list[Cause]) -> None:
    backends: list[tuple[str, Any]] = []
    if spec.get("defaultBackend"):
        backends.append(("spec.defaultBackend", spec["defaultBackend"]))
    for i, rule in enumerate(spec.get("rules") or []):
        http = (rule or {}).get("http")
        if not isinstance(http, dict):
            continue
        for j, path in enumerate(http.get("paths") or []):
            base = f"spec.rules[{i}].http.paths[{j}]"
            ptype = path.get("pathType")
            if ptype is None:
                causes.append(_required(f"{base}.pathType"))
            elif ptype not in _PATH_TYPES:
                causes.append({"reason": "FieldValueNotSupported", "field": f"{base}.pathType",
                               "message": f'Unsupported value: "{ptype}": supported values: '
                                          + ", ".join(f'"{t}"' for t in _PATH_TYPES)})
            backends.append((f"{base}.backend", path.get("backend")))
    for base, backend in backends:
        if not isinstance(backend, dict):
            causes.append(_required(base))
            continue
        service = backend.get("service")
        if isinstance(service, dict):
            port = service.get("port") or {}
            _port(f"{base}.service.port.number", port.get("number"), causes)
