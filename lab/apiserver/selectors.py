"""Label and field selectors as the API server parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

Matcher = Callable[[dict[str, str]], bool]

_SET = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./:-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _requirement(text: str) -> Matcher:
    if m := _SET.match(text):
        key, op = m.group(2), m.group(3)
        values = {v.strip() for v in m.group(4).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ.match(text):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.match(text):
        neg, key = m.groups()
        if neg:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ApiError(400, f"unable to parse requirement: {text.strip()!r}")


def label_matcher(selector: str) -> Matcher:
    """A predicate on a label dict for a selector such as `app=shop,colour in (blue,green)`."""
    reqs = [_requirement(p) for p in _split(selector)]
    return lambda labels: all(r(labels) for r in reqs)


# Field selectors a real server supports for Events beyond metadata.name/namespace
# (kubectl describe lists an object's Events with the involvedObject.* ones).
EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion",
                "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type")


def _field(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if path == "source" and isinstance(value, dict):
        value = value.get("component")
    return "" if value is None else str(value)


def field_matcher(selector: str, kind: str = "") -> Callable[[dict[str, Any]], bool]:
    """Field selectors (= == !=) on metadata.name and metadata.namespace, and for Events
    on the involvedObject, reason, source and type fields, as a real server allows."""
    known = ["metadata.name", "metadata.namespace"]
    if kind == "Event":
        known += EVENT_FIELDS
    reqs: list[tuple[str, bool, str]] = []
    for part in _split(selector):
        m = _EQ.match(part)
        if not m or m.group(1) not in known:
            raise ApiError(400, f'"{part.strip()}" is not a known field selector: only '
                                + ", ".join(f'"{k}"' for k in known))
        reqs.append((m.group(1), m.group(2) != "!=", m.group(3)))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field(obj, f) == v) == eq for f, eq, v in reqs)

    return match
