"""The resource types the emulator serves, and the discovery documents built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERBS = ["create", "delete", "get", "list", "patch", "update"]


@dataclass(frozen=True)
class ResourceType:
    """One group+resource: one storage, served in one or more versions (views)."""

    group: str
    versions: tuple[str, ...]  # first one is the storage version
    kind: str
    plural: str
    namespaced: bool = True
    builtin: bool = True  # strategic merge patch allowed, validated by kubernetes-validate
    status_subresource: bool = False
    generation: bool = False  # metadata.generation tracks spec changes
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(VERBS)
    return_deleted: bool = False  # DELETE answers the object instead of a Status

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def api_version(self, version: str | None = None) -> str:
        v = version or self.versions[0]
        return f"{self.group}/{v}" if self.group else v

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)


TYPES: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "Namespace", "namespaces", namespaced=False, short_names=("ns",)),
    ResourceType("", ("v1",), "Service", "services", short_names=("svc",), categories=("all",),
                 return_deleted=True),
    ResourceType("", ("v1",), "ConfigMap", "configmaps", short_names=("cm",)),
    ResourceType("", ("v1",), "Event", "events", short_names=("ev",)),
    ResourceType("apps", ("v1",), "Deployment", "deployments", status_subresource=True,
                 generation=True, short_names=("deploy",), categories=("all",)),
    ResourceType("networking.k8s.io", ("v1",), "Ingress", "ingresses", generation=True,
                 status_subresource=True, short_names=("ing",)),
    ResourceType("coordination.k8s.io", ("v1",), "Lease", "leases"),
    ResourceType("events.k8s.io", ("v1",), "Event", "events", short_names=("ev",)),
    ResourceType("rbac.authorization.k8s.io", ("v1",), "Role", "roles"),
    ResourceType("rbac.authorization.k8s.io", ("v1",), "RoleBinding", "rolebindings"),
    ResourceType("gateway.networking.k8s.io", ("v1", "v1beta1"), "HTTPRoute", "httproutes",
                 builtin=False, status_subresource=True, generation=True,
                 categories=("gateway-api",)),
    ResourceType("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "VirtualService",
                 "virtualservices", builtin=False, status_subresource=True, generation=True,
                 short_names=("vs",), categories=("istio-io", "networking-istio-io")),
    ResourceType("authorization.k8s.io", ("v1",), "SelfSubjectAccessReview",
                 "selfsubjectaccessreviews", namespaced=False, verbs=("create",)),
    ResourceType("authentication.k8s.io", ("v1",), "SelfSubjectReview", "selfsubjectreviews",
                 namespaced=False, verbs=("create",)),
)

_BY_KEY = {t.key: t for t in TYPES}
_GROUPS: dict[str, list[ResourceType]] = {}
for _t in TYPES:
    _GROUPS.setdefault(_t.group, []).append(_t)


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    """The type served at /apis/<group>/<version>/<plural>, or None."""
    rt = _BY_KEY.get((group, plural))
    if rt is None or version not in rt.versions:
        return None
    return rt


def resolve(api_version: str, kind_or_plural: str) -> ResourceType:
    """The type for an apiVersion and a kind or plural; KeyError if unknown."""
    group, version = split_api_version(api_version)
    for rt in _GROUPS.get(group, []):
        if version in rt.versions and kind_or_plural in (rt.kind, rt.plural, rt.singular):
            return rt
    raise KeyError(f"unknown resource {kind_or_plural!r} in {api_version!r}")


def group_types(group: str, version: str) -> list[ResourceType]:
    return [t for t in _GROUPS.get(group, []) if version in t.versions]


def _resource_list_entry(rt: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    out = [entry]
    if rt.status_subresource:
        out.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                    "kind": rt.kind, "verbs": ["get", "patch", "update"]})
    return out


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "127.0.0.1:443"}]}


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, types in _GROUPS.items():
        if not group:
            continue
        versions = types[0].versions
        groups.append({
            "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
        })
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    for g in api_group_list()["groups"]:
        if g["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    types = group_types(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        resources.extend(_resource_list_entry(rt))
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


VERSION_INFO = {
    "major": "1", "minor": "37", "gitVersion": "v1.37.0-lab", "gitCommit": "lab",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25",
    "compiler": "gc", "platform": "linux/amd64",
}
