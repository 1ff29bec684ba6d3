"""Parse a request path into what it addresses (discovery, a collection, an object)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from . import errors
from .resources import ResourceType, lookup


@dataclass
class Target:
    """A resource request: type, version, namespace, name, subresource, verb."""

    rt: ResourceType
    version: str
    namespace: str
    name: str
    subresource: str
    verb: str


def split(raw_path: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(raw_path)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return parts.path.rstrip("/") or "/", query


def resource_target(method: str, path: str, query: dict[str, str]) -> Target | None:
    """The Target of a resource path, None if it is not one. Raises 404 for unknown types."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    rt = lookup(group, version, plural)
    if rt is None or len(rest) > 3 or (sub and not (sub == "status" and rt.status_subresource)):
        raise errors.ApiError(404, "the server could not find the requested resource",
                              details={})
    if rt.namespaced is False and namespace:
        raise errors.ApiError(404, "the server could not find the requested resource")
    verb = _verb(method, name, query)
    if rt.namespaced and name and not namespace:
        raise errors.ApiError(404, "the server could not find the requested resource")
    return Target(rt, version, namespace, name, sub, verb)


def _verb(method: str, name: str, query: dict[str, str]) -> str:
    if method == "GET":
        if not name:
            return "watch" if query.get("watch") in ("true", "1") else "list"
        return "get"
    verbs = {"POST": "create", "PUT": "update", "PATCH": "patch",
             "DELETE": "delete" if name else "deletecollection"}
    if method not in verbs or (method == "POST" and name) or \
            (method in ("PUT", "PATCH") and not name):
        raise errors.method_not_allowed()
    return verbs[method]
