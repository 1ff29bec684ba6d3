"""Client-certificate (mutual TLS) and exec-plugin credentials, as kind and kubeadm
kubeconfigs and cloud kubeconfigs use them.

A real server's x509 authenticator takes the user from the certificate's CN and the groups
from its O attributes (staging/src/k8s.io/apiserver/pkg/authentication/request/x509/
x509.go CommonNameUserConversion), before the token authenticators; `system:masters` is
bound to cluster-admin (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go). Exec
plugins print an ExecCredential (staging/src/k8s.io/client-go/plugin/pkg/client/auth/exec/
exec.go; client.authentication.k8s.io/v1).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from lab.apiserver import APIServer

pytestmark = pytest.mark.contract


def _api(path: Path) -> Any:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return client.ApiClient(configuration)


def test_lab_kubeconfigs_authenticate_as_their_users(apiserver: APIServer,
                                                      tmp_path: Path) -> None:
    paths = apiserver.write_kubeconfigs(tmp_path, namespace="demo")
    assert set(paths) == {"token", "client-certificate", "exec"}
    users = {}
    for kind, path in paths.items():
        api = _api(path)
        try:
            apiserver.requests.clear()
            client.CoreV1Api(api).list_namespaced_service("demo")
        finally:
            api.close()
        users[kind] = apiserver.requests[-1].user
    assert users == {"token": "admin", "client-certificate": "lab-admin", "exec": "lab-exec"}
    assert "token" not in (tmp_path / "kubeconfig-cert").read_text()
    assert (tmp_path / "exec-token").stat().st_mode & 0o777 == 0o600


def test_certificate_groups_are_authorized_by_rbac_rules(apiserver: APIServer,
                                                          tmp_path: Path) -> None:
    """RBAC rules bound to a group apply to a certificate with that O; others are 403 with
    the certificate's CN as the user."""
    apiserver.authorizer.enabled = True
    apiserver.set_group_rules("shifters", [{"apiGroups": ["coordination.k8s.io"],
                                            "resources": ["leases"], "verbs": ["list"]}])
    cert = apiserver.issue_client_cert("alice", ("shifters", "team-a"))
    api = _api(apiserver.write_kubeconfig(tmp_path / "alice", namespace="demo",
                                          client_cert=cert))
    try:
        client.CoordinationV1Api(api).list_namespaced_lease("demo")
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(api).list_namespaced_service("demo")
    finally:
        api.close()
    body = json.loads(exc.value.body)
    assert exc.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('services is forbidden: User "alice" cannot list resource '
                               '"services" in API group "" in the namespace "demo"')


def test_a_certificate_user_without_rules_is_forbidden_under_rbac(apiserver: APIServer,
                                                                   tmp_path: Path) -> None:
    apiserver.authorizer.enabled = True
    cert = apiserver.issue_client_cert("bob", ("nobody",))
    api = _api(apiserver.write_kubeconfig(tmp_path / "bob", client_cert=cert))
    try:
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(api).list_namespaced_service("demo")
    finally:
        api.close()
    assert exc.value.status == 403


def test_a_certificate_of_another_ca_is_refused(apiserver: APIServer) -> None:
    """A real server answers 401 (it requests certificates and verifies them in the
    authenticator); the emulator verifies in the TLS handshake, so the handshake fails
    (listed in docs/lab.md). Either way the request is not served."""
    other = trustme.CA().issue_cert("mallory")
    ctx = ssl.create_default_context(cadata=apiserver.ca_pem.decode())
    other.configure_cert(ctx)
    import urllib.request
    with pytest.raises((ssl.SSLError, OSError)):
        urllib.request.urlopen(apiserver.url + "/api/v1/namespaces", context=ctx, timeout=10)


def test_kubectl_with_certificate_and_exec_kubeconfigs(apiserver: APIServer, tmp_path: Path,
                                                        kubectl: Any) -> None:
    paths = apiserver.write_kubeconfigs(tmp_path, namespace="demo")
    for kind in ("client-certificate", "exec"):
        out = kubectl("get", "namespaces", "-o", "name", config=paths[kind])
        assert out.returncode == 0, (kind, out.stderr)
        assert "namespace/demo" in out.stdout.split()


def test_exec_plugin_without_its_token_file_fails_with_one_line(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "lab" / "exec_credential.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={"LAB_TOKEN_FILE": str(tmp_path / "absent")}, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "LAB_TOKEN_FILE" in proc.stderr


def test_rbac_rules_of_the_certificate_user(apiserver: APIServer, tmp_path: Path) -> None:
    """Rules for a user apply to a certificate whose CN is that user."""
    apiserver.authorizer.enabled = True
    apiserver.set_rules("carol", [{"apiGroups": [""], "resources": ["services"],
                                   "verbs": ["list"]}])
    api = _api(apiserver.write_kubeconfig(tmp_path / "carol",
                                          client_cert=apiserver.issue_client_cert("carol")))
    try:
        client.CoreV1Api(api).list_namespaced_service("demo")
        with pytest.raises(ApiException) as exc:
            client.CoordinationV1Api(api).list_namespaced_lease("demo")
    finally:
        api.close()
    assert exc.value.status == 403 and 'User "carol"' in json.loads(exc.value.body)["message"]


def test_kubectl_auth_whoami_names_each_credential(apiserver: APIServer, tmp_path: Path,
                                                   kubectl: Any) -> None:
    """SelfSubjectReview (pkg/registry/authentication/selfsubjectreview/rest.go): the user
    and groups as authenticated, `system:authenticated` added to every user's groups
    (staging/src/k8s.io/apiserver/pkg/authentication/group/authenticated_group_adder.go)."""
    paths = apiserver.write_kubeconfigs(tmp_path, namespace="demo")
    seen = {}
    for kind, path in paths.items():
        out = kubectl("auth", "whoami", "-o", "json", config=path)
        assert out.returncode == 0, (kind, out.stderr)
        info = json.loads(out.stdout)["status"]["userInfo"]
        seen[kind] = (info["username"], info["groups"])
    assert seen == {"token": ("admin", ["system:authenticated"]),
                    "client-certificate": ("lab-admin", ["system:masters",
                                                         "system:authenticated"]),
                    "exec": ("lab-exec", ["system:masters", "system:authenticated"])}


def test_resource_names_rules_apply_to_a_list_or_watch_by_name(apiserver: APIServer,
                                                               tmp_path: Path) -> None:
    """A list or watch with fieldSelector metadata.name=X is authorized for the name X, so
    a Role with resourceNames allows `kubectl wait`/`rollout status` on that object
    (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go)."""
    apiserver.authorizer.enabled = True
    apiserver.set_rules("dana", [{"apiGroups": ["apps"], "resources": ["deployments"],
                                  "resourceNames": ["shop-green"], "verbs": ["list", "watch"]}])
    api = _api(apiserver.write_kubeconfig(tmp_path / "dana",
                                          client_cert=apiserver.issue_client_cert("dana")))
    apps = client.AppsV1Api(api)
    try:
        apps.list_namespaced_deployment("demo", field_selector="metadata.name=shop-green")
        with pytest.raises(ApiException) as exc:
            apps.list_namespaced_deployment("demo")
        with pytest.raises(ApiException) as other:
            apps.list_namespaced_deployment("demo", field_selector="metadata.name=shop-blue")
    finally:
        api.close()
    assert exc.value.status == 403 and other.value.status == 403
    assert json.loads(other.value.body)["message"] == (
        'deployments.apps "shop-blue" is forbidden: User "dana" cannot list resource '
        '"deployments" in API group "apps" in the namespace "demo"')
