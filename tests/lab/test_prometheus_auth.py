"""A rollout through a secured Prometheus: TLS with a private CA and basic auth, enforced by
Prometheus 2.42 itself (``--web.config.file``; it has no bearer-token auth, which
tests/contract/test_promauth.py covers against a server that demands one)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import trustme
import yaml

from lab.procs import free_port, wait_until
from lab.prometheus import Prometheus, WebSecurity
from tests.lab.cli import config, shifter, write_config

pytestmark = pytest.mark.lab


@pytest.fixture
def secured(lab, tmp_path) -> Iterator[Prometheus]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem.bytes())
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    web = WebSecurity(cert_file=tmp_path / "cert.pem", key_file=tmp_path / "key.pem",
                      ca_file=tmp_path / "ca.pem", username="shifter",
                      password="s3cret-pw-for-the-lab")
    assert lab.prometheus is not None
    scrape = yaml.safe_load(lab.prometheus.config_path.read_text())
    home = tmp_path / "prom"
    home.mkdir()
    prom = Prometheus(home, port=free_port(), config=scrape, web=web)
    prom.start()
    try:
        prom.wait_ready(timeout=15)
        # its own TSDB: wait for rate() data of both colours (first scrape ~5.7 s)
        wait_until(lambda: len(prom.values_by(
            f'sum by (service) (rate(http_requests_total{{namespace="{lab.namespace}"}}[5s]))',
            "service")) == 2, timeout=30, what="data in the secured Prometheus")
        yield prom
    finally:
        prom.stop()


def test_a_rollout_runs_through_a_prometheus_demanding_tls_and_basic_auth(
        lab, secured, tmp_path, monkeypatch):
    assert secured.web is not None
    auth = {"basic_auth_username_env": "PROM_USER", "basic_auth_password_env": "PROM_PASS",
            "ca_file": str(secured.web.ca_file)}
    path = write_config(tmp_path, config(lab, lab.router, bake="2s", analysis={
        "prometheus": secured.url, "prometheus_auth": auth}))

    monkeypatch.delenv("PROM_USER", raising=False)
    refused = shifter(lab, "run", "shop", "-f", str(path))
    assert refused.code == 2, refused.stderr  # unset credentials: refused before anything
    assert "PROM_USER is not set" in refused.stderr

    monkeypatch.setenv("PROM_USER", "shifter")
    monkeypatch.setenv("PROM_PASS", "wrong")
    denied = shifter(lab, "run", "shop", "-f", str(path))
    assert denied.code == 5, denied.stderr  # Prometheus answered 401 at the pre-flight
    assert "401" in denied.stderr and "wrong" not in denied.stderr + denied.stdout

    monkeypatch.setenv("PROM_PASS", secured.web.password)
    result = shifter(lab, "run", "shop", "-f", str(path))
    assert result.code == 0, result.stderr
    assert result.summary["outcome"] == "promoted"
    verdicts = result.of("verdict")
    assert verdicts and any(c["values"] for v in verdicts for c in v["checks"])
    assert secured.web.password not in result.stdout + result.stderr
    assert os.environ["PROM_PASS"] not in yaml.safe_dump(result.events)


@pytest.mark.parametrize("lab", ["nginx"], indirect=True)
def test_a_rollout_through_a_bearer_token_gate_picks_up_a_rotated_token(lab, tmp_path):
    from lab.authproxy import BearerProxy
    from tests.lab.cli import Running

    assert lab.prometheus is not None
    token = tmp_path / "token"
    token.write_text("token-one\n")
    with BearerProxy(lab.prometheus.url, "token-one") as proxy:
        path = write_config(tmp_path, config(lab, lab.router, bake="3s", analysis={
            "prometheus": proxy.url,
            "prometheus_auth": {"bearer_token_file": str(token)}}))
        run = Running(lab, "run", "shop", "-f", str(path), log_dir=tmp_path)
        try:
            run.wait_for_event(lambda e: e.get("event") == "step")
            proxy.tokens.add("token-two")  # the issuer rotates: old and new overlap,
            token.write_text("token-two\n")  # the file is replaced,
            seen = proxy.accepted
            wait_until(lambda: proxy.accepted > seen, timeout=10, what="a query")
            proxy.tokens.discard("token-one")  # and the old token stops working
            result = run.wait(timeout=90)
        finally:
            run.kill()
    assert result.code == 0, result.stderr
    assert result.summary["outcome"] == "promoted"
    assert proxy.tokens_seen == {"token-one", "token-two"}
    assert proxy.accepted > 0
    assert "token-one" not in result.stdout + result.stderr
    assert "token-two" not in result.stdout + result.stderr
