"""With no kubeconfig, shifter uses the pod's service account and the pod's namespace."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from shifter.kube import ObjectRef, load_client

pytestmark = pytest.mark.contract


def test_service_account_credentials_and_namespace(apiserver, tmp_path, monkeypatch):
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    token = "in-cluster-token-1234"
    apiserver.add_token(token, "system:serviceaccount:demo:shifter")
    (sa / "token").write_text(token)
    (sa / "ca.crt").write_bytes(apiserver.ca_pem)
    (sa / "namespace").write_text("demo\n")
    url = urlsplit(apiserver.url)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", url.hostname)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(url.port))
    apiserver.requests.clear()

    client = load_client(service_account_dir=str(sa))

    assert client.default_namespace == "demo"
    ns = client.get(ObjectRef("v1", "namespaces", "Namespace", "demo"))
    assert ns["metadata"]["name"] == "demo"
    users = {r.user for r in apiserver.requests.snapshot()}
    assert users == {"system:serviceaccount:demo:shifter"}


def test_no_credentials_anywhere_is_one_clear_error(tmp_path, monkeypatch):
    from shifter.errors import InvalidInput

    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InvalidInput, match="kubeconfig: no Kubernetes credentials"):
        load_client(service_account_dir=str(tmp_path / "none"))
