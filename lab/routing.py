"""How the real controllers read router objects: pure functions from objects to shares.

Each function takes the objects as plain dicts (as the API server stores them) and returns
the share of traffic per backend Service *name* (0..1, summing to 1 when anything is
routed, empty when nothing is). The lab controller maps names to colours.

- ingress-nginx: the main Ingress's backend Service takes what the canary does not; the
  canary Ingress (annotation ``nginx.ingress.kubernetes.io/canary: "true"``, same host and
  path) takes ``canary-weight`` / ``canary-weight-total`` (default total 100; no or invalid
  weight = 0). Header and cookie canary rules are ignored here: the lab's traffic sends no
  such header or cookie, so only the weight decides.
- Gateway API HTTPRoute: the first rule's backendRefs, share = weight / sum, weight
  default 1. All weights 0: real implementations answer 500; the lab routes to nothing.
- Istio VirtualService: the http route named ``primary`` (else the first), its
  ``route[].destination.host`` with ``weight``; a single destination without a weight gets
  100; hosts may be short (``shop-blue``) or FQDN (``shop-blue.demo.svc.cluster.local``).
- Service: the stable Service's selector; every Deployment whose pod labels match gets a
  share proportional to its replicas (one colour in the selector = 100% to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"

Obj = Mapping[str, Any]


def _annotations(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _normalise(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0:
        return {}
    return {name: w / total for name, w in weights.items() if w > 0}


def ingress_backend(ing: Obj) -> tuple[str, str, str] | None:
    """(host, path, service) of an Ingress's first rule path, or its default backend."""
    spec = ing.get("spec") or {}
    for rule in spec.get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths")) or []:
            svc = ((path.get("backend") or {}).get("service") or {}).get("name")
            if svc:
                return rule.get("host", ""), path.get("path", "/"), svc
    svc = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    return ("", "/", svc) if svc else None


def is_canary(ing: Obj) -> bool:
    return str(_annotations(ing).get(CANARY, "")).lower() == "true"


def nginx_shares(main: Obj | None, ingresses: Iterable[Obj]) -> dict[str, float]:
    """Shares from the main Ingress and any canary Ingress for the same host and path."""
    if main is None or is_canary(main):
        return {}
    backend = ingress_backend(main)
    if backend is None:
        return {}
    host, path, main_svc = backend
    canary_share, canary_svc = 0.0, None
    for ing in ingresses:
        if not is_canary(ing):
            continue
        cb = ingress_backend(ing)
        if cb is None or (cb[0], cb[1]) != (host, path):
            continue
        ann = _annotations(ing)
        total = _int(ann.get(CANARY_TOTAL), 100)
        weight = _int(ann.get(CANARY_WEIGHT), 0)
        if total <= 0:
            total = 100
        canary_share = min(max(weight, 0), total) / total
        canary_svc = cb[2]
        break  # ingress-nginx honours one canary per host/path
    shares: dict[str, float] = {main_svc: 1.0 - canary_share}
    if canary_svc is not None and canary_share > 0:
        shares[canary_svc] = shares.get(canary_svc, 0.0) + canary_share
    return _normalise(shares)


def httproute_shares(route: Obj | None) -> dict[str, float]:
    """Shares from an HTTPRoute's first rule's backendRefs."""
    if route is None:
        return {}
    rules = (route.get("spec") or {}).get("rules") or []
    if not rules:
        return {}
    weights: dict[str, float] = {}
    for ref in rules[0].get("backendRefs") or []:
        if ref.get("kind", "Service") != "Service" or not ref.get("name"):
            continue
        weight = ref.get("weight", 1)
        weights[ref["name"]] = weights.get(ref["name"], 0.0) + float(max(_int(weight, 0), 0))
    return _normalise(weights)


def virtualservice_shares(vs: Obj | None) -> dict[str, float]:
    """Shares from a VirtualService's ``primary`` (or first) http route."""
    if vs is None:
        return {}
    routes = (vs.get("spec") or {}).get("http") or []
    if not routes:
        return {}
    route = next((r for r in routes if r.get("name") == "primary"), routes[0])
    dests = route.get("route") or []
    weights: dict[str, float] = {}
    for dest in dests:
        host = (dest.get("destination") or {}).get("host", "")
        name = host.split(".", 1)[0]
        default = 100 if len(dests) == 1 else 0
        weights[name] = weights.get(name, 0.0) + float(max(_int(dest.get("weight"), default), 0))
    return _normalise(weights)


def service_shares(service: Obj | None, deployments: Iterable[Obj]) -> dict[str, float]:
    """Shares from a Service selector over the Deployments' pod labels, by replicas."""
    if service is None:
        return {}
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return {}
    weights: dict[str, float] = {}
    for dep in deployments:
        spec = dep.get("spec") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in selector.items()):
            name = (dep.get("metadata") or {}).get("name", "")
            weights[name] = float(spec.get("replicas", 1) or 0)
    return _normalise(weights)
