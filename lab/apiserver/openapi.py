"""A minimal OpenAPI v3 index, enough for kubectl: it tells kubectl that the server supports
server-side field validation (the `fieldValidation` query parameter on PATCH), so kubectl
validates on the server and falls back to compiled-in patch metadata for apply. No
component schemas are served (kubectl explain does not work)."""

from __future__ import annotations

from typing import Any

from .resources import TYPES, ResourceType


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root() -> dict[str, Any]:
    paths = {}
    for rt in TYPES:
        for version in rt.versions:
            p = _gv_path(rt.group, version)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash=lab"}
    return {"paths": paths}


def _operations(rt: ResourceType, version: str) -> dict[str, Any]:
    gvk = {"group": rt.group, "version": version, "kind": rt.kind}
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for n in ("dryRun", "fieldManager", "fieldValidation")]
    base = f"/{_gv_path(rt.group, version)}"
    if rt.namespaced:
        base += "/namespaces/{namespace}"
    path = f"{base}/{rt.plural}/{{name}}"
    op = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
          "operationId": f"patch{rt.kind}", "parameters": params,
          "responses": {"200": {"description": "OK"}}}
    post = {**op, "x-kubernetes-action": "post", "operationId": f"create{rt.kind}"}
    return {path: {"patch": op}, f"{base}/{rt.plural}": {"post": post}}


def group_version(path: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group/version (`api/v1`, `apis/apps/v1`), or None."""
    paths: dict[str, Any] = {}
    for rt in TYPES:
        for version in rt.versions:
            if _gv_path(rt.group, version) == path:
                paths.update(_operations(rt, version))
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.37.0"},
            "paths": paths, "components": {"schemas": {}}}
