"""Every router against the lab's API emulator, through shifter's real KubeClient.

For each router: both rollout directions as set / read back / compare; fields the router
does not own survive unchanged; a concurrent edit between read and write is refused (422
from a failed ``test`` op) instead of clobbered; ``dry_run`` changes no resourceVersion;
and the request log shows the patch content types intended (JSON patch on custom
resources, never strategic merge anywhere).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.apiserver import APIServer
from shifter.errors import KubeError
from shifter.kube import KubeClient, ObjectRef, PatchType, load_client
from shifter.routers import build_router, share
from shifter.routers.base import Colour, Router, Split, Target

pytestmark = pytest.mark.contract

BLUE, GREEN = Colour.BLUE, Colour.GREEN
TARGET = Target("demo", "shop", "shop-blue", "shop-green")
NGINX = "nginx.ingress.kubernetes.io/"
SERVER_FIELDS = ("resourceVersion", "generation", "managedFields", "uid", "creationTimestamp")


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "demo", "labels": {"app": "shop", "team": "web"},
            "annotations": {"owner": "someone-else", **extra}}


def _path(p: str, svc: str) -> dict[str, Any]:
    return {"path": p, "pathType": "Prefix",
            "backend": {"service": {"name": svc, "port": {"number": 80}}}}


def _service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name),
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}}


SEEDS: dict[str, list[dict[str, Any]]] = {
    "nginx": [{
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": _meta("shop", **{NGINX + "proxy-body-size": "8m"}),
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example", "http": {
            "paths": [_path("/", "shop-blue"), _path("/static", "shop-assets")]}}]},
    }],
    "gateway": [{
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": _meta("shop"),
        "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["shop.example"], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
             "backendRefs": [{"name": "admin", "port": 80}]},
            {"backendRefs": [{"name": "shop-blue", "port": 80},
                             {"name": "shop-green", "port": 80, "weight": 0}]}]},
    }],
    "istio": [{
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": _meta("shop"),
        "spec": {"hosts": ["shop"], "http": [
            {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}],
             "route": [{"destination": {"host": "admin"}, "weight": 80},
                       {"destination": {"host": "admin-v2"}, "weight": 20}]},
            {"name": "primary", "timeout": "5s", "route": [
                {"destination": {"host": "shop-blue.demo.svc.cluster.local"}, "weight": 100},
                {"destination": {"host": "shop-green"}, "weight": 0}]}]},
    }],
    "service": [_service("shop", {"app": "shop", "color": "blue"})],
}
CONFIGS: dict[str, dict[str, Any]] = {
    "nginx": {"ingress": "shop"}, "gateway": {}, "istio": {"route": "primary"}, "service": {},
}
KINDS = list(SEEDS)


def _owned_stripped(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without server-set metadata and without the fields ``kind`` owns."""
    out = copy.deepcopy(obj)
    for key in SERVER_FIELDS:
        out["metadata"].pop(key, None)
    # shifter's own fence: every revert stamps it so a late forward write is refused
    (out["metadata"].get("annotations") or {}).pop("shifter.dev/reverted-at", None)
    spec = out["spec"]
    if kind == "nginx":
        spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "<colour>"
    elif kind == "gateway":
        for ref in spec["rules"][1]["backendRefs"]:
            ref.pop("weight", None)
    elif kind == "istio":
        for dest in spec["http"][1]["route"]:
            dest.pop("weight", None)
    else:
        spec["selector"]["color"] = "<colour>"
    return out


def _main_ref(kind: str) -> ObjectRef:
    obj = SEEDS[kind][0]
    plural = {"Ingress": "ingresses", "HTTPRoute": "httproutes",
              "VirtualService": "virtualservices", "Service": "services"}[obj["kind"]]
    return ObjectRef(obj["apiVersion"], plural, obj["kind"], "shop", "demo")


class HookedClient(KubeClient):
    """A KubeClient that runs ``before_patch`` once, just before its next PATCH."""

    before_patch: Callable[[], None] | None = None

    def patch(self, ref: ObjectRef, body: Any, patch_type: PatchType, *,
              dry_run: bool = False) -> dict[str, Any]:
        if self.before_patch is not None:
            hook, self.before_patch = self.before_patch, None
            hook()
        return super().patch(ref, body, patch_type, dry_run=dry_run)


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[HookedClient]:
    base = load_client(kubeconfig=str(kubeconfig))
    client = HookedClient(base.api, default_namespace="demo")
    try:
        yield client
    finally:
        client.api.close()


def _seed(srv: APIServer, kind: str) -> None:
    srv.store.create(_service("shop-blue", {"app": "shop", "color": "blue"}))
    srv.store.create(_service("shop-green", {"app": "shop", "color": "green"}))
    for obj in SEEDS[kind]:
        srv.store.create(copy.deepcopy(obj))


def _router(kind: str, client: KubeClient) -> Router:
    return build_router(kind, client, TARGET, {"kind": kind, **CONFIGS[kind]})


def _versions(client: KubeClient, router: Router) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for ref in router.objects():
        try:
            out[ref.path] = client.get(ref)["metadata"]["resourceVersion"]
        except KubeError:
            out[ref.path] = None
    return out


def _rollout(router: Router, new: Colour) -> None:
    live = new.other
    if router.supports_partial:
        router.set_weight(new, 10)
        assert router.read() == Split(live, 10)
        router.set_weight(new, 50)
        assert share(router.read(), new) == 50
    else:
        router.set_weight(new, 100)
        assert router.read() == Split(new, 0)
        router.revert(new)
        assert router.read() == Split(live, 0)
    router.promote(new)
    assert router.read() == Split(new, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_both_ways_keeps_foreign_fields(kind: str, apiserver: APIServer,
                                                   kube: HookedClient) -> None:
    _seed(apiserver, kind)
    router = _router(kind, kube)
    router.check()
    before = kube.get(_main_ref(kind))
    assert router.read() == Split(BLUE, 0)
    _rollout(router, GREEN)
    _rollout(router, BLUE)  # the next rollout goes the other way, no config change
    if router.supports_partial:
        router.set_weight(GREEN, 10)
        assert router.read() == Split(BLUE, 10)
    changes = router.revert(GREEN)
    assert len(changes) == 1
    assert router.read() == Split(BLUE, 0)
    after = kube.get(_main_ref(kind))
    assert _owned_stripped(kind, after) == _owned_stripped(kind, before)

    patches = [r for r in apiserver.requests if r.method == "PATCH"]
    assert patches and all(r.status < 300 for r in patches)
    assert not any("strategic" in r.content_type for r in patches)
    if kind in ("gateway", "istio"):
        assert {r.content_type for r in patches} == {PatchType.JSON.value}


def test_nginx_canary_is_created_with_only_what_it_needs(apiserver: APIServer,
                                                         kube: HookedClient) -> None:
    _seed(apiserver, "nginx")
    router = _router("nginx", kube)
    router.set_weight(GREEN, 10)
    canary = kube.get(router.objects()[1])
    assert canary["metadata"]["annotations"] == {NGINX + "canary": "true",
                                                 NGINX + "canary-weight": "10"}
    assert canary["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "shifter"}
    assert canary["spec"]["rules"] == [{"host": "shop.example", "http": {
        "paths": [_path("/", "shop-green")]}}]
    creates = [r for r in apiserver.requests if r.method == "POST"]
    assert len(creates) == 1 and creates[0].status == 201


def _concurrent_edit(kind: str, srv: APIServer) -> Callable[[], Any]:
    """Someone else's edit of exactly what the router read, made between read and write."""
    def edit() -> None:
        obj = srv.store.get(*_api(kind), "demo", "shop-canary" if kind == "nginx" else "shop")
        assert obj is not None
        if kind == "nginx":
            obj["metadata"]["annotations"][NGINX + "canary-weight"] = "33"
        elif kind == "gateway":
            for ref, w in zip(obj["spec"]["rules"][1]["backendRefs"], (67, 33), strict=True):
                ref["weight"] = w
        elif kind == "istio":
            for dest, w in zip(obj["spec"]["http"][1]["route"], (67, 33), strict=True):
                dest["weight"] = w
        srv.store.put(obj)
    return edit


def _api(kind: str) -> tuple[str, str]:
    obj = SEEDS[kind][0]
    return obj["apiVersion"], obj["kind"]


@pytest.mark.parametrize("kind", ["nginx", "gateway", "istio"])
def test_concurrent_edit_is_refused_not_clobbered(kind: str, apiserver: APIServer,
                                                  kube: HookedClient) -> None:
    _seed(apiserver, kind)
    router = _router(kind, kube)
    router.set_weight(GREEN, 10)
    kube.before_patch = _concurrent_edit(kind, apiserver)
    with pytest.raises(KubeError) as err:
        router.set_weight(GREEN, 50)
    assert err.value.status in (409, 422)
    assert router.read() == Split(BLUE, 33)  # the other writer's value stands
    router.set_weight(GREEN, 50)  # what the retry layer does: call again, which re-reads
    assert share(router.read(), GREEN) == 50


def test_service_flip_keeps_a_concurrent_selector_edit(apiserver: APIServer,
                                                       kube: HookedClient) -> None:
    _seed(apiserver, "service")
    router = _router("service", kube)

    def edit() -> None:
        obj = apiserver.store.get("v1", "Service", "demo", "shop")
        assert obj is not None
        obj["spec"]["selector"]["tier"] = "web"
        apiserver.store.put(obj)

    kube.before_patch = edit
    # the forward write is fenced on the resourceVersion read: the concurrent edit makes it
    # a 409, and the retry policy re-reads and writes again, keeping the edit
    from shifter import retry

    retry.kube(lambda: router.promote(GREEN), what="promote")
    selector = kube.get(_main_ref("service"))["spec"]["selector"]
    assert selector == {"app": "shop", "color": "green", "tier": "web"}


@pytest.mark.parametrize("kind", KINDS)
def test_dry_run_changes_no_resource_version(kind: str, apiserver: APIServer,
                                             kube: HookedClient) -> None:
    _seed(apiserver, kind)
    router = _router(kind, kube)
    if router.supports_partial:
        router.set_weight(GREEN, 10)
    before = _versions(kube, router)
    changes = [*router.set_weight(GREEN, 50 if router.supports_partial else 100, dry_run=True),
               *router.promote(GREEN, dry_run=True), *router.revert(GREEN, dry_run=True)]
    assert changes
    assert _versions(kube, router) == before
    writes = [r for r in apiserver.requests if r.method in ("PATCH", "POST")]
    dry = [r for r in writes if "dryRun=All" in r.path]
    assert len(dry) == len(changes) and all(r.status < 300 for r in dry)
