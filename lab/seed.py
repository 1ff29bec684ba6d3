"""The objects the lab seeds: namespace, the release's Deployments and Services, a router.

Blue is live. Router objects per kind:

- ``nginx``: the main Ingress `release` (class nginx, host ``<release>.<ns>.lab``, ``/``
  Prefix -> ``<release>-blue:80``); no canary Ingress (shifter creates it);
- ``gateway``: HTTPRoute `release` under Gateway ``lab-gateway``, backendRefs blue 100,
  green 0;
- ``istio``: VirtualService `release`, http route ``primary``, blue 100, green 0;
- ``service``: only the stable Service `release` (selector ``color: blue``), which is
  seeded for every router kind.
"""

from __future__ import annotations

import contextlib
from typing import Any

COLOURS = ("blue", "green")
PROGRESS_DEADLINE = 15  # seconds, spec.progressDeadlineSeconds of the seeded Deployments
ROUTER_TYPES = (
    ("networking.k8s.io/v1", "ingresses"),
    ("gateway.networking.k8s.io/v1", "httproutes"),
    ("networking.istio.io/v1", "virtualservices"),
)


def _meta(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return meta


def namespace(ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}


def deployment(release: str, colour: str, ns: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": release, "color": colour}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(f"{release}-{colour}", ns, labels),
        "spec": {
            "replicas": replicas,
            # Short, so that a version that never becomes ready (-crashloop) shows the real
            # ProgressDeadlineExceeded condition within the lab's time scale.
            "progressDeadlineSeconds": PROGRESS_DEADLINE,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.lab/{release}:{colour}",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 8080},
                                "periodSeconds": 5,
                            },
                        }
                    ]
                },
            },
        },
    }


def service(name: str, ns: str, selector: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns, labels),
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def ingress(release: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(release, ns, {"app": release}),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": f"{release}.{ns}.lab",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": f"{release}-blue", "port": {"number": 80}}
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def httproute(release: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(release, ns, {"app": release}),
        "spec": {
            "parentRefs": [{"name": "lab-gateway"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": f"{release}-blue", "port": 80, "weight": 100},
                        {"name": f"{release}-green", "port": 80, "weight": 0},
                    ],
                }
            ],
        },
    }


def virtualservice(release: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": _meta(release, ns, {"app": release}),
        "spec": {
            "hosts": [release],
            "http": [
                {
                    "name": "primary",
                    "route": [
                        {"destination": {"host": f"{release}-blue"}, "weight": 100},
                        {"destination": {"host": f"{release}-green"}, "weight": 0},
                    ],
                }
            ],
        },
    }


def base_objects(release: str, ns: str) -> list[dict[str, Any]]:
    """Namespace, Deployments, colour Services and the stable Service (blue live)."""
    objs = [namespace(ns)]
    for colour in COLOURS:
        objs.append(deployment(release, colour, ns))
    for colour in COLOURS:
        sel = {"app": release, "color": colour}
        objs.append(service(f"{release}-{colour}", ns, sel, dict(sel)))
    objs.append(service(release, ns, {"app": release, "color": "blue"}, {"app": release}))
    return objs


def router_objects(router: str, release: str, ns: str) -> list[dict[str, Any]]:
    if router == "nginx":
        return [ingress(release, ns)]
    if router == "gateway":
        return [httproute(release, ns)]
    if router == "istio":
        return [virtualservice(release, ns)]
    if router == "service":
        return []
    raise ValueError(f"router: expected nginx, gateway, istio or service, got {router!r}")


def _items(listed: Any) -> list[dict[str, Any]]:
    if isinstance(listed, dict):
        return list(listed.get("items") or [])
    return list(listed or [])


def clear(store: Any, release: str, ns: str) -> None:
    """Delete every router object, Lease and Event in the namespace."""
    types = [*ROUTER_TYPES, ("coordination.k8s.io/v1", "leases"), ("v1", "events"),
             ("events.k8s.io/v1", "events")]
    for api_version, plural in types:
        for obj in _items(store.list(api_version, plural, ns)):
            with contextlib.suppress(Exception):  # events may share one storage
                store.delete(api_version, plural, ns, obj["metadata"]["name"])


def seed(store: Any, router: str, *, release: str = "shop", ns: str = "demo") -> None:
    """Put the base objects (resetting them to the seed) and `router`'s objects."""
    objs = base_objects(release, ns) + router_objects(router, release, ns)
    for obj in objs:
        if obj["kind"] == "Deployment":
            # Re-created rather than replaced: a fresh Deployment (generation 1) is made
            # ready by the emulator's controller, whatever a test did to the old one.
            with contextlib.suppress(Exception):
                store.delete("apps/v1", "deployments", ns, obj["metadata"]["name"])
            store.create(obj)
        else:
            store.put(obj)
