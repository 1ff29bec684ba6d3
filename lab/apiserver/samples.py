"""Sample objects (the `shop` release) for tests of and with the API emulator."""

from __future__ import annotations

from typing import Any

GW = ("gateway.networking.k8s.io", "v1", "httproutes")
VS = ("networking.istio.io", "v1", "virtualservices")


def service(name: str = "shop", port: int = 80) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {"app": "shop"}},
            "spec": {"selector": {"app": "shop", "colour": "blue"},
                     "ports": [{"name": "http", "port": port, "targetPort": 8080}]}}


def deployment(name: str = "shop-blue", replicas: int = 2) -> dict[str, Any]:
    labels = {"app": "shop", "colour": name.rsplit("-", 1)[-1]}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [
                                      {"name": "app", "image": "shop:1",
                                       "ports": [{"containerPort": 8080}]},
                                      {"name": "sidecar", "image": "proxy:1"}]}}}}


def ingress(name: str = "shop", canary: bool = False) -> dict[str, Any]:
    annotations = {"kubernetes.io/ingress.class": "nginx"}
    if canary:
        annotations |= {"nginx.ingress.kubernetes.io/canary": "true",
                        "nginx.ingress.kubernetes.io/canary-weight": "0"}
    backend = {"service": {"name": "shop-green" if canary else "shop-blue",
                           "port": {"number": 80}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend}]}}]}}


def httproute(name: str = "shop", green_weight: int | None = 0) -> dict[str, Any]:
    green: dict[str, Any] = {"name": "shop-green", "port": 80}
    if green_weight is not None:
        green["weight"] = green_weight
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": "gw"}],
                     "rules": [{"backendRefs": [{"name": "shop-blue", "port": 80}, green]}]}}


def virtualservice(name: str = "shop",
                   api_version: str = "networking.istio.io/v1") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "VirtualService", "metadata": {"name": name},
            "spec": {"hosts": ["shop"], "http": [{"route": [
                {"destination": {"host": "shop-blue"}, "weight": 100},
                {"destination": {"host": "shop-green"}, "weight": 0}]}]}}
