"""Just enough of the Kubernetes protobuf encoding to read a SelfSubjectAccessReview,
which `kubectl auth can-i` sends as `application/vnd.kubernetes.protobuf`."""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> dict[int, list[Any]]:
    """Decode one message into {field number: [values]} (bytes for length-delimited)."""
    out: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _str(msg: dict[int, list[Any]], number: int) -> str:
    values = msg.get(number)
    return values[-1].decode() if values else ""


def access_review(body: bytes) -> dict[str, Any]:
    """A SelfSubjectAccessReview (as JSON-like dict) from its protobuf envelope."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf message")
    unknown = fields(body[len(MAGIC):])
    raw = fields(unknown.get(2, [b""])[-1])
    spec_msg = fields(raw.get(2, [b""])[-1])
    spec: dict[str, Any] = {}
    if 1 in spec_msg:
        attrs = fields(spec_msg[1][-1])
        spec["resourceAttributes"] = {
            key: _str(attrs, n)
            for n, key in enumerate(("namespace", "verb", "group", "version", "resource",
                                     "subresource", "name"), start=1) if _str(attrs, n)}
    if 2 in spec_msg:
        attrs = fields(spec_msg[2][-1])
        spec["nonResourceAttributes"] = {"path": _str(attrs, 1), "verb": _str(attrs, 2)}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": spec}
