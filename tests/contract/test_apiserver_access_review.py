"""SelfSubjectAccessReview in the API emulator, as a real API server answers it (what
shifter's pre-flight access review, shifter/access.py, relies on).

Real behaviour, by source file (kubernetes/kubernetes):
- pkg/registry/authorization/selfsubjectaccessreview/rest.go (``REST.Create``): the review
  is validated (422 ``NewInvalid``), then the caller's OWN attributes
  (``ResourceAttributesFrom(userToCheck, ...)``: verb, group, resource, subresource, name,
  namespace) go through the same authorizer as any request; ``status.allowed`` is
  ``decision == DecisionAllow`` and ``status.denied`` only an explicit deny, which RBAC
  never gives (no matching rule is "no opinion", plugin/pkg/auth/authorizer/rbac/rbac.go,
  with an empty reason).
- pkg/apis/authorization/validation/validation.go (``ValidateSelfSubjectAccessReviewSpec``):
  exactly one of ``resourceAttributes`` and ``nonResourceAttributes``.
- plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go: the ClusterRole
  ``system:basic-user`` (create ``selfsubjectaccessreviews`` and ``selfsubjectrulesreviews``
  in ``authorization.k8s.io``; ``selfsubjectreviews`` in ``authentication.k8s.io``, kubernetes
  PR 116274) is bound to the group ``system:authenticated`` (``ClusterRoleBindings``), so any
  authenticated user may review itself with no Role granting it.
- plugin/pkg/auth/authorizer/rbac/rbac.go (``VisitRulesFor(user, namespace)``): a
  RoleBinding's rules hold in its own namespace only; a review for another namespace, or
  at the cluster scope (namespace ""), is not allowed by them.
- pkg/apis/rbac/v1/evaluation_helpers.go (``ResourceNameMatches``): a rule with
  ``resourceNames`` allows only a request naming one of them, so never a create (a create
  request carries no name; a review that names the object would be allowed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import APIServer

pytestmark = pytest.mark.contract

RULES = [
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"],
     "resourceNames": ["shop", "shop-canary"], "verbs": ["get", "patch"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["create"]},
    {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["get"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "resourceNames": ["shifter-shop"], "verbs": ["get", "update", "create"]},
]


def _api(apiserver: APIServer, tmp_path: Path, user: str = "x",
         namespace: str | None = "demo") -> client.ApiClient:
    from kubernetes import config

    apiserver.add_token(f"tok-{user}", user)
    apiserver.set_rules(user, RULES, namespace=namespace)  # a Role bound in `namespace`
    path = apiserver.write_kubeconfig(tmp_path / f"{user}.kubeconfig", token=f"tok-{user}")
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return client.ApiClient(configuration)


def _review(api: client.ApiClient, spec: dict[str, Any]) -> dict[str, Any]:
    """POST the review as a plain dict; the answer as the server sent it."""
    resp = client.AuthorizationV1Api(api).create_self_subject_access_review(
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
         "spec": spec}, _preload_content=False)
    assert resp.status == 201
    return dict(json.loads(resp.data))


def _can(api: client.ApiClient, verb: str, resource: str, group: str, name: str = "",
         namespace: str = "demo", subresource: str = "") -> bool:
    attrs = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
    attrs.update({k: v for k, v in (("name", name), ("subresource", subresource)) if v})
    status = _review(api, {"resourceAttributes": attrs})["status"]
    return bool(status["allowed"])


def test_the_review_evaluates_the_callers_rules(apiserver: APIServer, tmp_path: Path) -> None:
    apiserver.authorizer.enabled = True
    api = _api(apiserver, tmp_path)
    try:
        net = "networking.k8s.io"
        assert _can(api, "patch", "ingresses", net, "shop-canary")
        assert not _can(api, "patch", "ingresses", net, "billing")  # resourceNames
        assert not _can(api, "patch", "ingresses", net)  # a named rule needs the name
        assert not _can(api, "delete", "ingresses", net, "shop")  # verbs
        assert not _can(api, "patch", "ingresses", "extensions", "shop")  # groups
        assert _can(api, "create", "ingresses", net)
        assert _can(api, "update", "leases", "coordination.k8s.io", "shifter-shop")
        # create with resourceNames: a review naming the object says yes, the create (no
        # name in its URL) is refused; so shifter reviews a create without the name
        assert _can(api, "create", "leases", "coordination.k8s.io", "shifter-shop")
        assert not _can(api, "create", "leases", "coordination.k8s.io")
        with pytest.raises(ApiException) as exc:
            client.CoordinationV1Api(api).create_namespaced_lease("demo", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "shifter-shop"}})
        assert exc.value.status == 403
        assert _can(api, "get", "deployments", "apps", "shop", subresource="status")
        assert not _can(api, "get", "deployments", "apps", "shop")  # subresource only
    finally:
        api.close()


def test_a_role_holds_in_its_own_namespace_only(apiserver: APIServer, tmp_path: Path) -> None:
    apiserver.authorizer.enabled = True
    api = _api(apiserver, tmp_path)
    try:
        net = "networking.k8s.io"
        assert _can(api, "patch", "ingresses", net, "shop", namespace="demo")
        assert not _can(api, "patch", "ingresses", net, "shop", namespace="other")
        assert not _can(api, "patch", "ingresses", net, "shop", namespace="")  # cluster scope
        with pytest.raises(ApiException) as exc:  # and so does a request there
            client.NetworkingV1Api(api).read_namespaced_ingress("shop", "other")
        assert exc.value.status == 403
        assert json.loads(exc.value.body)["message"].endswith('in the namespace "other"')
    finally:
        api.close()
    everywhere = _api(apiserver, tmp_path, user="y", namespace=None)  # a ClusterRoleBinding
    try:
        assert _can(everywhere, "patch", "ingresses", "networking.k8s.io", "shop", "other")
    finally:
        everywhere.close()


def test_a_denied_answer_is_allowed_false_with_no_reason(apiserver: APIServer,
                                                          tmp_path: Path) -> None:
    api = _api(apiserver, tmp_path)
    try:
        attrs = {"verb": "patch", "group": "", "resource": "services", "namespace": "demo",
                 "name": "shop"}
        answer = _review(api, {"resourceAttributes": attrs})
    finally:
        api.close()
    assert answer["kind"] == "SelfSubjectAccessReview"
    assert answer["spec"] == {"resourceAttributes": attrs}
    assert answer["status"] == {"allowed": False}  # no "denied": RBAC has no opinion


def test_every_authenticated_user_may_review_itself(apiserver: APIServer,
                                                     tmp_path: Path) -> None:
    """No rule of the user names selfsubjectaccessreviews: system:basic-user allows it.
    Without that binding (removed by a cluster admin) the review is a 403 like any other."""
    apiserver.authorizer.enabled = True
    api = _api(apiserver, tmp_path)
    try:
        assert _can(api, "get", "ingresses", "networking.k8s.io", "shop")
        apiserver.authorizer.basic_user = False
        with pytest.raises(ApiException) as exc:
            _can(api, "get", "ingresses", "networking.k8s.io", "shop")
    finally:
        apiserver.authorizer.basic_user = True
        api.close()
    body = json.loads(exc.value.body)
    assert exc.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "x" cannot create '
        'resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" at the '
        'cluster scope')


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({}, "spec.resourceAttributes",
     "exactly one of nonResourceAttributes or resourceAttributes must be specified"),
    ({"resourceAttributes": {"verb": "get", "resource": "pods"},
      "nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
     "spec.nonResourceAttributes", "cannot be specified in combination with resourceAttributes"),
])
def test_a_review_with_neither_or_both_attributes_is_invalid(
        apiserver: APIServer, tmp_path: Path, spec: dict[str, Any], field: str,
        message: str) -> None:
    api = _api(apiserver, tmp_path)
    try:
        with pytest.raises(ApiException) as exc:
            _review(api, spec)
    finally:
        api.close()
    body = json.loads(exc.value.body)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith(
        f'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: {field}: Invalid value: ')
    assert body["message"].endswith(message)
    assert body["details"]["causes"][0]["field"] == field


def test_non_resource_reviews_follow_system_discovery(apiserver: APIServer,
                                                       tmp_path: Path) -> None:
    apiserver.authorizer.enabled = True
    api = _api(apiserver, tmp_path)
    try:
        def can(verb: str, path: str) -> bool:
            answer = _review(api, {"nonResourceAttributes": {"verb": verb, "path": path}})
            return bool(answer["status"]["allowed"])

        assert can("get", "/healthz") and can("get", "/apis/apps/v1")
        assert not can("post", "/healthz") and not can("get", "/metrics")
    finally:
        api.close()
