"""JSON as the API server's Go code writes and compares it, for the JSON-patch `test` op.

A real server applies a JSON patch with gopkg.in/evanphx/json-patch.v4 to the object it
serialized itself (Go encoding/json: compact, `<`, `>`, `&`, U+2028 and U+2029 escaped as
\\u003c..., other non-ASCII characters as raw UTF-8, integral floats without a fraction).
`test` compares objects key by key and arrays item by item, but scalars by their compacted
bytes: the doc's as Go wrote them against the patch's as the client sent them. So `1.0` is
not `1`, `"\\u00e9"` (Python's json.dumps default) is not `"é"`, and `"a&b"` is not Go's
`"a\\u0026b"` (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go;
evanphx/json-patch v4 patch.go `test` and `lazyNode.equal`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_DECODER = json.JSONDecoder()
_WS = " \t\n\r"


@dataclass(frozen=True)
class Raw:
    """A scalar as it appeared in the request body (compacted)."""

    text: str


RawNode = dict[str, "RawNode"] | list["RawNode"] | Raw


def _go_string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif code < 0x20 or ch in "<>&\u2028\u2029":
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # Go replaces invalid UTF-8 (lone surrogates here)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_float(f: float) -> str:
    """strconv.AppendFloat(f, 'f' or 'e', -1, 64) as encoding/json chooses it."""
    if math.isinf(f) or math.isnan(f):
        raise ValueError(f"json: unsupported value: {f}")
    if f == 0 or 1e-6 <= abs(f) < 1e21:
        text = format(Decimal(repr(f)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    text = repr(f)
    if len(text) >= 4 and text[-4:-1] in ("e-0", "e+0"):
        text = text[:-2] + text[-1]  # Go: e-09 -> e-9 (and Python's e+0X never occurs here)
    return text


def dumps(value: Any) -> str:
    """Go encoding/json's compact output for a decoded JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, dict):
        items = sorted(value.items())  # Go sorts map keys
        return "{" + ",".join(f"{_go_string(k)}:{dumps(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _parse(text: str, i: int) -> tuple[RawNode, int]:
    i = _skip(text, i)
    if text[i:i + 1] == "{":
        node: dict[str, RawNode] = {}
        i = _skip(text, i + 1)
        if text[i:i + 1] == "}":
            return node, i + 1
        while True:
            key, i = _DECODER.raw_decode(text, _skip(text, i))
            i = _skip(text, i)
            if text[i:i + 1] != ":":
                raise ValueError("expected ':'")
            node[key], i = _parse(text, i + 1)
            i = _skip(text, i)
            if text[i:i + 1] == "}":
                return node, i + 1
            if text[i:i + 1] != ",":
                raise ValueError("expected ',' or '}'")
            i += 1
    if text[i:i + 1] == "[":
        items: list[RawNode] = []
        i = _skip(text, i + 1)
        if text[i:i + 1] == "]":
            return items, i + 1
        while True:
            item, i = _parse(text, i)
            items.append(item)
            i = _skip(text, i)
            if text[i:i + 1] == "]":
                return items, i + 1
            if text[i:i + 1] != ",":
                raise ValueError("expected ',' or ']'")
            i += 1
    _, end = _DECODER.raw_decode(text, i)
    return Raw(text[i:end]), end


def raw_values(body: bytes) -> list[RawNode | None] | None:
    """The raw `value` of each operation of a JSON-patch body (None where absent)."""
    try:
        tree, _ = _parse(body.decode("utf-8", errors="replace"), 0)
    except (ValueError, IndexError):
        return None
    if not isinstance(tree, list):
        return None
    return [op.get("value") if isinstance(op, dict) else None for op in tree]


def raw_of(value: Any) -> RawNode:
    """A RawNode for a value given in-process (scalars as Go would write them)."""
    if isinstance(value, dict):
        return {k: raw_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [raw_of(v) for v in value]
    return Raw(dumps(value))


def equal(doc: Any, raw: RawNode) -> bool:
    """evanphx json-patch v4 `lazyNode.equal`: structure by key and index, scalars by bytes."""
    if isinstance(doc, dict):
        return isinstance(raw, dict) and doc.keys() == raw.keys() and \
            all(equal(doc[k], raw[k]) for k in doc)
    if isinstance(doc, list):
        return isinstance(raw, list) and len(doc) == len(raw) and \
            all(equal(d, r) for d, r in zip(doc, raw, strict=True))
    return isinstance(raw, Raw) and raw.text == dumps(doc)
