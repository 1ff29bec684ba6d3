"""Secrets never shown: URLs, bearer tokens, known values, structlog events."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from shifter.redact import (
    redact_headers,
    redact_processor,
    redact_text,
    redact_url,
    strip_url_credentials,
    url_secrets,
)

SLACK = "https://hooks.slack.com/services/T0123456789/B1001010101/7IsoQTrixdUtE971O1xQTm4T"


@pytest.mark.parametrize(("url", "shown"), [
    (SLACK, "https://hooks.slack.com/***"),
    ("https://user:pw@example.com:8443/hook?token=x", "https://example.com:8443/***"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ("http://[::1]:9000/x", "http://[::1]:9000/***"),
    ("not a url", "***"),
    ("http://host:99999/x", "***"),  # a bad port does not crash
    ("", "***"),
])
def test_redact_url_keeps_scheme_and_host_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_strip_url_credentials_keeps_the_path() -> None:
    assert strip_url_credentials("http://u:p@svc.ns:8080/healthz?token=abc&x=1") == (
        "http://***@svc.ns:8080/healthz?token=***&x=***")
    assert strip_url_credentials("http://svc/healthz") == "http://svc/healthz"


def test_url_secrets_cover_the_pieces() -> None:
    pieces = url_secrets("https://u:pw123@h/services/T/B/XYZ?k=val")
    assert pieces[0] == "https://u:pw123@h/services/T/B/XYZ?k=val"
    assert {"/services/T/B/XYZ", "pw123", "val"} <= set(pieces)
    assert pieces == sorted(pieces, key=len, reverse=True)


def test_redact_text_replaces_known_secrets_and_tokens() -> None:
    text = (f"POST {SLACK} failed: Server error for url '{SLACK}'; "
            "Authorization: Bearer eyJhbGciOi.abc-def_ghi; proxy http://bob:pw@proxy:3128")
    out = redact_text(text, url_secrets(SLACK))
    assert "7IsoQTrixdUtE971O1xQTm4T" not in out and "T0123456789" not in out
    assert "eyJhbGciOi" not in out and "Bearer ***" in out
    assert "bob:pw" not in out and "http://***@proxy:3128" in out
    # a secret that is also part of a longer one: the longer one goes first
    assert redact_text("abcdef abc", ["abc", "abcdef"]) == "*** ***"
    assert redact_text("nothing here", ["", "zzz"]) == "nothing here"


def test_redact_headers() -> None:
    assert redact_headers({"Authorization": "Bearer s3cr3t", "X-Api-Token": "t0k",
                           "Accept": "application/json", "Cookie": "sid=1"}) == {
        "Authorization": "Bearer ***", "X-Api-Token": "***", "Accept": "application/json",
        "Cookie": "***"}


def test_processor_scrubs_keys_values_and_nested() -> None:
    process = redact_processor(lambda: [SLACK, "hunter2"])
    event: dict[str, Any] = {
        "event": f"cannot post to {SLACK}",
        "token": "abc",
        "password": "whatever",
        "webhook_url": SLACK,
        "headers": {"Authorization": "Bearer qwerty", "Accept": "*/*"},
        "attempts": [1, "hunter2"],
        "count": 3,
        "kubeconfig_server": "https://admin:pw@10.0.0.1:6443",
    }
    out = process(None, "warning", event)
    assert out["event"] == "cannot post to ***"
    assert out["token"] == "***" and out["password"] == "***"
    assert out["webhook_url"] == "https://hooks.slack.com/***"
    assert out["headers"] == {"Authorization": "Bearer ***", "Accept": "*/*"}
    assert out["attempts"] == [1, "***"]
    assert out["count"] == 3
    assert out["kubeconfig_server"] == "https://***@10.0.0.1:6443"


def test_processor_in_a_structlog_chain(capsys: pytest.CaptureFixture[str]) -> None:
    secrets: list[str] = []
    logger = structlog.wrap_logger(
        structlog.PrintLogger(),
        processors=[redact_processor(lambda: secrets), structlog.processors.KeyValueRenderer()],
    )
    secrets.append(SLACK)  # registered after the logger was built: still covered
    logger.info("posting", url=SLACK, note=f"path {SLACK.split('.com')[1]}")
    out = capsys.readouterr().out
    assert "7IsoQTrixdUtE971O1xQTm4T" not in out
    assert "***" in out


# -- the registry and the config's secrets ---------------------------------------------------

@pytest.fixture
def registry() -> Any:
    from shifter import redact

    redact.forget_all()
    yield redact
    redact.forget_all()


def test_registered_secrets_are_scrubbed_everywhere(registry: Any) -> None:
    registry.register(SLACK, "Bearer tok3n-value", "ab", "")
    text = f"posting to {SLACK}; token tok3n-value; path {SLACK.split('.com')[1]}; ab"
    out = registry.scrub_text(text)
    assert "7IsoQTrixdUtE971O1xQTm4T" not in out and "tok3n-value" not in out
    assert out.endswith("; ab")  # too short to register: masking it would ruin output
    nested = registry.scrub({"a": [f"x {SLACK}", 3], "b": ("tok3n-value",)})
    assert nested == {"a": ["x ***", 3], "b": ("***",)}


def test_secrets_in_a_config_tree() -> None:
    from shifter.redact import secrets_in

    data = {
        "release": "shop",
        "analysis": {"prometheus": "https://shifter:pr0m-pass@prom:9090",
                     "prometheus_auth": {"bearer_token_env": "PROM_TOKEN",
                                         "headers": {"X-Scope-OrgID": "tenant",
                                                     "Authorization": "Bearer hdr-tok"}}},
        "smoke": [{"url": "http://{service}/healthz?token=qs-secret&verbose=1&svc=shop-green"
                          "&sig=abcdefgh12",
                   "headers": {"X-Api-Key": "k3y-value", "Accept": "text/plain"}}],
        "notify": [{"url": SLACK}, {"url_env": "HOOK"}],
    }
    found = set(secrets_in(data))
    assert {"pr0m-pass", "Bearer hdr-tok", "qs-secret", "abcdefgh12", "k3y-value", SLACK,
            "/services/T0123456789/B1001010101/7IsoQTrixdUtE971O1xQTm4T"} <= found
    # names of where a secret is, and ordinary values, are not secrets
    # names of where a secret is, and ordinary values, are not secrets: registering
    # `shop-green` would mask the Service's name in every record
    assert not found & {"PROM_TOKEN", "HOOK", "tenant", "text/plain", "1", "shop",
                        "shop-green"}


def test_error_messages_are_scrubbed(registry: Any) -> None:
    from shifter.errors import PrometheusUnavailable

    registry.register("hunter2-pw")
    err = PrometheusUnavailable("Prometheus at http://u:hunter2-pw@prom did not answer "
                                "(Authorization: Bearer abc.def)")
    assert str(err) == "Prometheus at http://***@prom did not answer (Authorization: Bearer ***)"
