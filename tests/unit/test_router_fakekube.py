"""An in-memory KubeClient for router unit tests (and tests of its tiny patch applier)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from shifter.errors import Conflict, KubeError, NotFound
from shifter.kube.client import KubeClient, ObjectRef, PatchType
from shifter.routers.base import Target

TARGET = Target("demo", "shop", "shop-blue", "shop-green")


def _tokens(path: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _walk(doc: Any, tokens: list[str]) -> Any:
    for t in tokens:
        doc = doc[int(t)] if isinstance(doc, list) else doc[t]
    return doc


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    doc = copy.deepcopy(doc)
    for op in ops:
        tokens = _tokens(op["path"])
        try:
            parent = _walk(doc, tokens[:-1])
            last = tokens[-1]
            if op["op"] == "test":
                if _walk(parent, [last]) != op["value"]:
                    raise KubeError(f"test failed at {op['path']}", status=422)
            elif op["op"] == "replace":
                _walk(parent, [last])  # must exist
                parent[int(last) if isinstance(parent, list) else last] = op["value"]
            elif op["op"] == "add":
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last), op["value"])
                else:
                    parent[last] = op["value"]
            else:
                raise KubeError(f"op {op['op']} not supported by the fake", status=400)
        except (KeyError, IndexError, ValueError) as exc:
            raise KubeError(f"missing path {op['path']}", status=422) from exc
    return doc


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class FakeKube(KubeClient):
    """Objects by path; resourceVersion bumps on every write; dry runs change nothing."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, Any]] = []  # (verb, path, body)
        self.before_write: Callable[[], None] | None = None
        self.rv = 0

    def put(self, ref: ObjectRef, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        self.objects[ref.path] = obj

    served_groups: dict[str, list[str]] = {  # noqa: RUF012 - discovery of API groups
        "networking.istio.io": ["networking.istio.io/v1", "networking.istio.io/v1beta1"],
    }

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        group = path.removeprefix("/apis/")
        if method == "GET" and group in self.served_groups:
            return {"kind": "APIGroup", "name": group,
                    "versions": [{"groupVersion": v} for v in self.served_groups[group]]}
        raise NotFound(f"{path} not found", status=404)

    def get(self, ref: ObjectRef) -> dict[str, Any]:
        if ref.path not in self.objects:
            raise NotFound(f"{ref} not found", status=404)
        return copy.deepcopy(self.objects[ref.path])

    def _hook(self) -> None:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()

    def create(self, ref: ObjectRef, body: dict[str, Any], *, dry_run: bool = False
               ) -> dict[str, Any]:
        self._hook()
        self.writes.append(("create", ref.collection_path, body))
        path = f"{ref.collection_path}/{body['metadata']['name']}"
        if path in self.objects:
            raise Conflict("already exists", status=409)
        if not dry_run:
            self.put(ref.named(body["metadata"]["name"]), body)
        return body

    def patch(self, ref: ObjectRef, body: Any, patch_type: PatchType, *,
              dry_run: bool = False) -> dict[str, Any]:
        self._hook()
        self.writes.append((patch_type.name, ref.path, body))
        current = self.get(ref)
        new = json_patch(current, body) if patch_type is PatchType.JSON else merge_patch(
            current, body)
        if not dry_run:
            self.put(ref, new)
        return new


def ref(kind: str, name: str) -> ObjectRef:
    table = {
        "Service": ("v1", "services"),
        "Ingress": ("networking.k8s.io/v1", "ingresses"),
        "HTTPRoute": ("gateway.networking.k8s.io/v1", "httproutes"),
        "VirtualService": ("networking.istio.io/v1", "virtualservices"),
    }
    api, plural = table[kind]
    return ObjectRef(api, plural, kind, name, "demo")


def service(name: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "demo", "labels": {"app": "shop"}},
            "spec": {"selector": selector or {"app": "shop", "color": name.split("-")[-1]},
                     "ports": [{"port": 80, "targetPort": 8080}]}}


def with_services(fake: FakeKube) -> FakeKube:
    for name in ("shop-blue", "shop-green"):
        fake.put(ref("Service", name), service(name))
    return fake


# --- tests of the fake itself --------------------------------------------------------------

def test_json_patch_applier_tests_adds_and_replaces() -> None:
    doc = {"a": [{"w": 1}, {"n": "x"}], "m": {"k/1": "v"}}
    out = json_patch(doc, [
        {"op": "test", "path": "/a/0/w", "value": 1},
        {"op": "replace", "path": "/a/0/w", "value": 5},
        {"op": "add", "path": "/a/1/w", "value": 7},
        {"op": "add", "path": "/a/-", "value": {"n": "y"}},
        {"op": "test", "path": "/m/k~11", "value": "v"},
    ])
    assert out == {"a": [{"w": 5}, {"n": "x", "w": 7}, {"n": "y"}], "m": {"k/1": "v"}}
    assert doc["a"][0]["w"] == 1
    with pytest.raises(KubeError) as err:
        json_patch(doc, [{"op": "test", "path": "/a/0/w", "value": 2}])
    assert err.value.status == 422
    with pytest.raises(KubeError):
        json_patch(doc, [{"op": "replace", "path": "/a/1/w", "value": 2}])


def test_fake_dry_run_changes_nothing() -> None:
    fake = with_services(FakeKube())
    r = ref("Service", "shop-blue")
    before = fake.get(r)
    fake.patch(r, {"metadata": {"labels": {"x": "y"}}}, PatchType.MERGE, dry_run=True)
    assert fake.get(r) == before
