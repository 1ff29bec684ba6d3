"""Patch semantics: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge."""

from __future__ import annotations

import copy
from typing import Any

from . import gojson
from .errors import ApiError

# Strategic merge keys of the list fields shifter's objects use (from the Kubernetes Go types).
# "ports" is resolved by content: container ports merge on containerPort, Service ports on port.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
# Lists of scalars with patchStrategy "merge" (union of values).
MERGE_SCALAR_LISTS = {"finalizers"}


class PatchError(ApiError):
    """A patch that cannot be applied (422, as the API server answers)."""

    def __init__(self, message: str) -> None:
        super().__init__(422, "the server rejected our request due to an error in our request",
                         details={"causes": [{"reason": "UnexpectedServerResponse",
                                              "message": message}]})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- RFC 6902 -----------------------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    idx = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if idx > limit:
        raise PatchError(f"array index {idx} out of bounds")
    return idx


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"doc is missing key: {path}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise PatchError(f"doc is missing path: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the document root")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"remove operation does not apply: doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {path!r}")
    return doc


def json_patch(doc: Any, ops: Any, raw: list[gojson.RawNode | None] | None = None) -> Any:
    """Apply RFC 6902 operations; a failed `test` or a missing path raises PatchError.

    `raw` holds each operation's `value` as the client wrote it: `test` compares it with the
    doc as Go serializes it (see gojson); without it, values compare as Go would write them.
    """
    if not isinstance(ops, list):
        raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace") and "value" not in op:
            raise PatchError(f"missing value for {kind} operation at {path}")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if _pointer(path):
                _get(doc, path)  # the target must exist
                doc = _replace(doc, path, copy.deepcopy(op["value"]))
            else:
                doc = copy.deepcopy(op["value"])
        elif kind == "move":
            value = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            raw_value = raw[index] if raw is not None and index < len(raw) else None
            if raw_value is None and op.get("value") is not None:
                raw_value = gojson.raw_of(op["value"])
            _test(doc, path, raw_value)
        else:
            raise ApiError(400, f"Unexpected kind: {kind}")
    return doc


def _test(doc: Any, path: str, raw: gojson.RawNode | None) -> None:
    """evanphx json-patch v4 `test`: a missing or null value equals only a null value."""
    tokens = _pointer(path)
    try:
        parent = _parent(doc, tokens, path) if tokens else None
    except PatchError:
        raise PatchError(f"test operation does not apply: is missing path: {path}: "
                         "missing value") from None
    if not tokens:
        current = doc
    elif isinstance(parent, dict):
        current = parent.get(tokens[-1])
    elif isinstance(parent, list):
        current = _get(doc, path)
    else:
        raise PatchError(f"test operation does not apply: is missing path: {path}: "
                         "missing value")
    if current is None:
        if raw is None or raw == gojson.Raw("null"):
            return
    elif raw is not None and gojson.equal(current, raw):
        return
    raise PatchError(f"testing value {path} failed: test failed")


def _replace(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, list):
        parent[_index(parent, last, allow_end=False)] = value
    else:
        parent[last] = value
    return doc


# --- strategic merge patch ------------------------------------------------------------------

def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge patch for built-in types (merge keys from MERGE_KEYS)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key == "$retainKeys" or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    if not isinstance(current, list):
        current = []
    if field in MERGE_SCALAR_LISTS:
        return [*current, *(v for v in patch if v not in current)]
    key = _merge_key(field, patch + current)
    if key is None:
        return [strategic_merge(None, v) if isinstance(v, dict) else v for v in patch
                if not (isinstance(v, dict) and v.get("$patch") == "delete")]
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [copy.deepcopy(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    result = [copy.deepcopy(v) for v in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise ApiError(400, f"map: {item!r} does not contain declared merge key: {key}")
        pos = next((i for i, v in enumerate(result)
                    if isinstance(v, dict) and v.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if pos is not None:
                result.pop(pos)
            continue
        if pos is None:
            result.append(strategic_merge(None, item))
        else:
            result[pos] = strategic_merge(result[pos], item)
    return result
