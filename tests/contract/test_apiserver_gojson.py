"""The emulator's model of Go's encoding/json and time.Parse (pure functions), against
outputs of Go itself: encoding/json's HTML-safe string escaping and float formatting
(src/encoding/json/encode.go), time.Parse's errors (src/time/format.go)."""

from __future__ import annotations

import pytest

from lab.apiserver import gojson, gotime

pytestmark = pytest.mark.contract


@pytest.mark.parametrize(("value", "go"), [
    (1.0, "1"), (0.1, "0.1"), (1e-7, "1e-7"), (1.5e-5, "0.000015"), (1e21, "1e+21"),
    (1e20, "100000000000000000000"), (-0.5, "-0.5"), (10, "10"), (True, "true"),
    (None, "null"), ("a&b<c>", '"a\\u0026b\\u003cc\\u003e"'), ("é\u2028", '"é\\u2028"'),
    ("\x01\n", '"\\u0001\\n"'), ({"b": 1, "a": [False]}, '{"a":[false],"b":1}'),
])
def test_dumps_writes_what_go_writes(value: object, go: str) -> None:
    assert gojson.dumps(value) == go


def test_raw_values_keep_the_clients_bytes() -> None:
    body = b'[{"op":"test","path":"/a","value": {"x": 1.0, "y": ["\\u00e9", true]}},' \
           b'{"op":"remove","path":"/b"}]'
    assert gojson.raw_values(body) == [
        {"x": gojson.Raw("1.0"), "y": [gojson.Raw('"\\u00e9"'), gojson.Raw("true")]}, None]
    first = (gojson.raw_values(body) or [None])[0]
    assert first is not None and not gojson.equal({"x": 1, "y": ["é", True]}, first)
    same = (gojson.raw_values('[{"value":{"y":["é",true],"x":1}}]'.encode()) or [None])[0]
    assert same is not None and gojson.equal({"x": 1, "y": ["é", True]}, same)


@pytest.mark.parametrize(("value", "layout", "error"), [
    ("2026-01-01T10:00:00.123456Z", gotime.RFC3339_MICRO, None),
    ("2026-01-01T10:00:00.123456-07:00", gotime.RFC3339_MICRO, None),
    ("2026-01-01T10:00:00Z", gotime.RFC3339, None),
    ("2026-01-01T10:00:00.5Z", gotime.RFC3339, None),
    ("2026-01-01 10:00:00Z", gotime.RFC3339,
     'parsing time "2026-01-01 10:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse '
     '" 10:00:00Z" as "T"'),
    ("2026-01-01T24:00:00Z", gotime.RFC3339,
     'parsing time "2026-01-01T24:00:00Z": hour out of range'),
    ("2026-02-29T00:00:00Z", gotime.RFC3339,
     'parsing time "2026-02-29T00:00:00Z": day out of range'),
    ("2026-01-01T10:00:00Zjunk", gotime.RFC3339,
     'parsing time "2026-01-01T10:00:00Zjunk": extra text: "junk"'),
])
def test_time_parse_errors_are_gos(value: str, layout: str, error: str | None) -> None:
    assert gotime.parse_error(value, layout) == error
