"""The Prometheus boundary without a network: parsing, redaction, error translation."""

from __future__ import annotations

import math

import pytest

from shifter.analysis.prometheus import PrometheusSource, QueryError, parse_vector, redact_url
from shifter.errors import InvalidInput, PrometheusUnavailable


def test_redact_url() -> None:
    assert redact_url("https://user:secret@prom.example:9090/api?token=abc") == (
        "https://prom.example:9090/api"
    )
    assert redact_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"


def test_parse_vector() -> None:
    result = [
        {"metric": {"service": "a"}, "value": [1.0, "3"]},
        {"metric": {}, "value": [1.0, "NaN"]},
    ]
    samples = parse_vector(result)
    assert samples[0] == ({"service": "a"}, 3.0)
    assert math.isnan(samples[1][1])
    with pytest.raises(QueryError, match="instant vector"):
        parse_vector([1.0, "3"])
    with pytest.raises(QueryError, match="instant vector"):
        parse_vector({"x": 1})


@pytest.fixture
def source() -> PrometheusSource:
    src = PrometheusSource("http://u:pw@127.0.0.1:1", headers={"Authorization": "Bearer t0k"})
    yield src  # type: ignore[misc]
    src.close()


def test_translate_400_is_query_error(source: PrometheusSource) -> None:
    body = b'{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected"}'
    err = source._translate(f"HTTP Status Code 400 ({body!r})")
    assert isinstance(err, QueryError) and isinstance(err, InvalidInput)
    assert err.detail == "1:4: parse error: unexpected"


def test_translate_5xx_is_unavailable_and_redacted(source: PrometheusSource) -> None:
    err = source._translate("HTTP Status Code 503 (b'Service Unavailable')")
    assert isinstance(err, PrometheusUnavailable)
    assert str(err) == "Prometheus at http://127.0.0.1:1 answered HTTP 503: Service Unavailable"
    assert "pw" not in str(err) and "t0k" not in str(err)
