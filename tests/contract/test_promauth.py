"""``analysis.prometheus_auth`` against a real HTTPS server that demands a bearer token (as
managed Prometheus services and auth proxies do): the token is re-read on every query,
extra headers are sent, the CA bundle is used, and no secret reaches an error message."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from shifter.analysis import promauth
from shifter.analysis.prometheus import PrometheusSource
from shifter.config import PrometheusAuth
from shifter.errors import ConfigError, PrometheusUnavailable

pytestmark = pytest.mark.contract


class Server:
    """HTTPS on 127.0.0.1; answers /api/v1/query only with the current token."""

    def __init__(self, tmp: Path) -> None:
        self.token = "token-1"
        self.seen: list[dict[str, str]] = []
        ca = trustme.CA()
        self.ca_file = tmp / "ca.pem"
        self.ca_file.write_bytes(ca.cert_pem.bytes())
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.seen.append(dict(self.headers))
                if self.headers.get("Authorization") != f"Bearer {outer.token}":
                    self._send(401, {"status": "error", "error": "unauthorized"})
                    return
                self._send(200, {"status": "success", "data": {"resultType": "vector",
                           "result": [{"metric": {"service": "shop-green"},
                                       "value": [1, "0.5"]}]}})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(ctx)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    s = Server(tmp_path)
    yield s
    s.close()


def source(server: Server, auth: PrometheusAuth) -> PrometheusSource:
    return PrometheusSource(server.url, timeout=5, session=promauth.session(auth))


def test_a_rotated_token_file_is_used_from_the_next_query(server, tmp_path):
    token = tmp_path / "token"
    token.write_text("token-1\n")
    auth = PrometheusAuth(bearer_token_file=str(token), ca_file=str(server.ca_file),
                          headers={"X-Scope-OrgID": "team-a"})
    with source(server, auth) as src:
        assert src.query("up") == [({"service": "shop-green"}, 0.5)]
        server.token = "token-2"  # the server rotates; so does the file
        token.write_text("token-2")
        assert src.query("up")[0][1] == 0.5
    assert [h["Authorization"] for h in server.seen] == ["Bearer token-1", "Bearer token-2"]
    assert {h["X-Scope-OrgID"] for h in server.seen} == {"team-a"}


def test_a_token_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", "token-1")
    auth = PrometheusAuth(bearer_token_env="PROM_TOKEN", ca_file=str(server.ca_file))
    with source(server, auth) as src:
        assert src.query("up")
        monkeypatch.setenv("PROM_TOKEN", "stale")
        with pytest.raises(PrometheusUnavailable, match="HTTP 401") as err:
            src.query("up")
    assert "stale" not in str(err.value)


def test_without_the_ca_bundle_the_certificate_is_refused(server, monkeypatch):
    """... and with insecure_skip_verify it is not checked, with one log line instead of
    urllib3's warning on every query (the suite turns warnings into errors)."""
    import structlog.testing

    monkeypatch.setenv("PROM_TOKEN", "token-1")
    with source(server, PrometheusAuth(bearer_token_env="PROM_TOKEN")) as src, \
            pytest.raises(PrometheusUnavailable):
        src.query("up")
    insecure = PrometheusAuth(bearer_token_env="PROM_TOKEN", insecure_skip_verify=True)
    with structlog.testing.capture_logs() as logs, source(server, insecure) as src:
        for _ in range(3):
            assert src.query("up")
    said = [e for e in logs if "not verified" in e["event"]]
    assert len(said) == 1 and said[0]["setting"] == "analysis.prometheus_auth.insecure_skip_verify"


def test_a_token_file_gone_mid_rollout_is_cannot_measure_not_bad_input(server, tmp_path):
    token = tmp_path / "token"
    token.write_text("token-1")
    auth = PrometheusAuth(bearer_token_file=str(token), ca_file=str(server.ca_file))
    with source(server, auth) as src:
        token.unlink()
        with pytest.raises(PrometheusUnavailable):
            src.query("up")
    with pytest.raises(ConfigError, match="bearer_token_file: cannot read"):
        promauth.check(auth)


def test_secrets_lists_the_credentials_for_redaction(monkeypatch):
    monkeypatch.setenv("U", "user")
    monkeypatch.setenv("P", "pw-123")
    auth = PrometheusAuth(basic_auth_username_env="U", basic_auth_password_env="P")
    secrets = promauth.secrets(auth)
    assert any(s.startswith("Basic ") for s in secrets)
    import base64

    assert base64.b64encode(b"user:pw-123").decode() in secrets
