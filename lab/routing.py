"""How the real controllers read router objects: pure functions from objects to shares.

Each function takes the objects as plain dicts (as the API server stores them) and returns
the share of traffic per backend Service *name* (0..1, summing to 1 when anything is
routed, empty when nothing is). The lab controller maps names to colours.

- ingress-nginx: the main Ingress's backend Service takes what the canary does not; the
  canary Ingress (annotation ``nginx.ingress.kubernetes.io/canary: "true"``, same host and
  path) takes ``canary-weight`` / ``canary-weight-total`` (default total 100; no or invalid
  weight = 0). Header rules (``canary-by-header`` with ``canary-by-header-value``, or
  the value ``always``) are the preview routes below; cookies are ignored.
- Gateway API HTTPRoute: the first rule's backendRefs, share = weight / sum, weight
  default 1. All weights 0: real implementations answer 500; the lab routes to nothing.
- Istio VirtualService: the http route named ``primary`` (else the first), its
  ``route[].destination.host`` with ``weight``; a single destination without a weight gets
  100; hosts may be short (``shop-blue``) or FQDN (``shop-blue.demo.svc.cluster.local``).
- Service: the stable Service's selector; every Deployment whose pod labels match gets a
  share proportional to its replicas (one colour in the selector = 100% to it).

Preview routes (``*_previews``): ``{(header name, value): Service name}`` for requests
carrying that header, which go there whatever the weights: an HTTPRoute rule with an
``Exact`` header match and one backendRef (Gateway API: a rule with more header matches
takes precedence); a VirtualService http route before the weighted one with a header
``exact`` match and one destination (Istio: first match wins); the canary Ingress's
``canary-by-header``/``canary-by-header-value`` (ingress-nginx: header before weight).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"
BY_HEADER = "nginx.ingress.kubernetes.io/canary-by-header"
BY_HEADER_VALUE = "nginx.ingress.kubernetes.io/canary-by-header-value"
Previews = dict[tuple[str, str], str]

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


def nginx_previews(main: Obj | None, ingresses: Iterable[Obj]) -> Previews:
    """Header routes of the canary Ingress for the main Ingress's host and path."""
    backend = None if main is None or is_canary(main) else ingress_backend(main)
    if backend is None:
        return {}
    host, path, _ = backend
    for ing in ingresses:
        cb = ingress_backend(ing) if is_canary(ing) else None
        if cb is None or (cb[0], cb[1]) != (host, path):
            continue
        ann = _annotations(ing)
        header = str(ann.get(BY_HEADER, "")).strip()
        if not header:
            return {}
        value = str(ann.get(BY_HEADER_VALUE) or "always")
        return {(header.lower(), value): cb[2]}
    return {}


def httproute_previews(route: Obj | None) -> Previews:
    """Rules with Exact header matches and exactly one backendRef."""
    out: Previews = {}
    for rule in ((route or {}).get("spec") or {}).get("rules") or []:
        refs = [r for r in rule.get("backendRefs") or [] if r.get("kind", "Service") == "Service"]
        if len(refs) != 1 or _int(refs[0].get("weight", 1), 0) <= 0:
            continue
        for match in rule.get("matches") or []:
            for h in match.get("headers") or []:
                if h.get("type", "Exact") == "Exact" and h.get("name"):
                    out[(str(h["name"]).lower(), str(h.get("value", "")))] = refs[0]["name"]
    return out


def virtualservice_previews(vs: Obj | None) -> Previews:
    """http routes before the weighted one (``primary``) with exact header matches."""
    out: Previews = {}
    for route in ((vs or {}).get("spec") or {}).get("http") or []:
        if route.get("name") == "primary":
            break
        dests = route.get("route") or []
        if len(dests) != 1:
            continue
        host = str((dests[0].get("destination") or {}).get("host", "")).split(".", 1)[0]
        for match in route.get("match") or []:
            for name, cond in (match.get("headers") or {}).items():
                if isinstance(cond, dict) and "exact" in cond:
                    out[(str(name).lower(), str(cond["exact"]))] = host
    return out
