"""The Helm chart `charts/shifter/`.

Without helm: Chart.yaml is sane, values.yaml satisfies values.schema.json (draft-07),
bad values fail it, and the Role template carries manifests/role.yaml's rules verbatim.
With a helm binary (`HELM` env var, PATH, or the venv's bin where scripts/get-helm.sh puts
it): `helm lint --strict`, `helm template`, and the rendered objects pass the same checks
as the kustomize manifests (strict Kubernetes schemas, RBAC grants, Job security).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.contract.test_manifests import (
    K8S_VERSIONS,
    REPO,
    ROUTERS,
    by_kind,
    check_job_retry_policy,
    check_job_security,
    expected_grants,
    grants,
    load_docs,
    one,
    render_roles,
    validate_builtin,
)

pytestmark = pytest.mark.contract

CHART = REPO / "charts" / "shifter"


def values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def schema() -> dict[str, Any]:
    import json

    return dict(json.loads((CHART / "values.schema.json").read_text()))


def schema_errors(vals: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(vals)]


def with_change(path: str, value: Any) -> dict[str, Any]:
    """values.yaml with one dotted key set (a value of DELETE removes the key)."""
    vals = copy.deepcopy(values())
    *parents, leaf = path.split(".")
    node = vals
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return vals


DELETE = object()


# --- without helm ---------------------------------------------------------------------------

def test_chart_yaml_is_a_v2_application_chart_at_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "shifter" and chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    init = (REPO / "shifter" / "__init__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', init)
    assert version and chart["appVersion"] == version.group(1)


def test_schema_is_draft_07_and_values_yaml_satisfies_it() -> None:
    s = schema()
    assert s["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(s)
    assert s["additionalProperties"] is False
    assert schema_errors(values()) == []


GOOD = {
    "gateway router": ("router", {"kind": "gateway", "route": "shop", "rule": 0}),
    "istio router": ("router", {"kind": "istio", "virtual_service": "shop",
                                "subsets": {"blue": "v1", "green": "v2"}}),
    "service router": ("router", {"kind": "service", "service": "shop", "label": "color"}),
    "router name defaults to release": ("router", {"kind": "nginx"}),
    "one step": ("steps", [100]),
    "smoke check": ("smoke", [{"url": "http://shop-green.demo.svc/healthz",
                               "expect_status": 200, "timeout": "2s", "retries": 3}]),
    "webhook from a Secret": ("notify", [{"format": "slack", "existingSecret": "hooks",
                                          "key": "slack"}]),
    "other namespace": ("namespace", "shop-prod"),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_schema_accepts_good_values(case: str) -> None:
    path, value = GOOD[case]
    assert schema_errors(with_change(path, value)) == []


BAD = {
    "steps as a string": ("steps", "10,50,100"),
    "steps not reaching 100": ("steps", [10, 50]),
    "step over 100": ("steps", [10, 150]),
    "unknown router": ("router", {"kind": "traefik"}),
    "field of another router": ("router", {"kind": "nginx", "route": "shop"}),
    "unknown preset": ("analysis.preset", "datadog"),
    "error rate above 1": ("analysis.max_error_rate", 5),
    "bake without a unit": ("bake", "60"),
    "release not a DNS label": ("release", "Shop_Prod"),
    "no release": ("release", DELETE),
    "webhook URL in values": ("notify", [{"url": "https://hooks.example/x"}]),
    "smoke with an unknown field": ("smoke", [{"url": "http://x", "status": 200}]),
    "unknown top-level key": ("prometheus", "http://prometheus"),
    "negative backoffLimit": ("job.backoffLimit", -1),
    "unknown onInterrupt": ("job.onInterrupt", "ignore"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_rejects_bad_values(case: str) -> None:
    path, value = BAD[case]
    assert schema_errors(with_change(path, value)), f"{case} was accepted"


def test_role_templates_carry_the_manifests_comments() -> None:
    """The chart's Roles are rendered from values, but say the same about each rule."""
    template = (CHART / "templates" / "role.yaml").read_text()
    for phrase in ("create cannot be limited by name", "`--image`", "aftercare",
                   "deployments/scale", "rbac.createCanaryIngress"):
        assert phrase in template, phrase
    assert "rbac.operatorSubjects" in (CHART / "templates" / "role-operator.yaml").read_text()


def test_no_secret_material_in_values_or_templates() -> None:
    """Webhook URLs come only from a Secret (secretKeyRef), never from values or files."""
    text = "\n".join(p.read_text() for p in sorted(CHART.rglob("*")) if p.is_file())
    assert "hooks.slack.com" not in text
    job = (CHART / "templates" / "job.yaml").read_text()
    assert "secretKeyRef" in job


# --- with helm ------------------------------------------------------------------------------

def find_helm() -> str | None:
    for candidate in (os.environ.get("HELM"), shutil.which("helm"),
                      str(Path(sys.executable).parent / "helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    binary = find_helm()
    if binary is None:
        pytest.skip("helm is not installed (no $HELM, no helm on PATH or in the venv); "
                    "scripts/get-helm.sh installs one")
    home = tmp_path_factory.mktemp("helm-home")
    env = {**os.environ, "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([binary, *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)
        if ok:
            assert proc.returncode == 0, f"helm {' '.join(args)}: {proc.stderr.strip()}"
        return proc

    return run


def template(helm: Any, *extra: str) -> list[dict[str, Any]]:
    proc = helm("template", "rollout", str(CHART), "--namespace", "demo", *extra)
    return load_docs(proc.stdout)


def test_helm_lint_strict(helm: Any) -> None:
    proc = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in proc.stdout


def test_helm_template_objects_validate_strictly(helm: Any) -> None:
    objs = template(helm)
    assert {o["kind"] for o in objs} == {"ServiceAccount", "Role", "RoleBinding",
                                         "ConfigMap", "Job"}
    assert len(by_kind(objs, "Role")) == 2  # the runner's and the operators'
    for version in K8S_VERSIONS:
        for obj in objs:
            validate_builtin(obj, version)
    for obj in objs:
        assert obj["metadata"]["namespace"] == "demo"


def test_helm_rendered_rbac_and_job_match_the_manifests(helm: Any) -> None:
    objs = template(helm)
    role = by_kind(objs, "Role")["rollout-shifter"]
    binding, sa = one(objs, "RoleBinding"), one(objs, "ServiceAccount")
    job = one(objs, "Job")
    assert grants(role) == expected_grants("nginx")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": "demo"}]
    check_job_security(job)
    check_job_retry_policy(job)
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    (container,) = pod["containers"]
    assert container["image"].endswith(":" + yaml.safe_load(
        (CHART / "Chart.yaml").read_text())["appVersion"])
    assert container["args"][:2] == ["run", "shop"]
    # Each Helm revision is a new rollout Job; an upgrade keeps the finished one (ttl).
    assert job["metadata"]["name"].endswith("-shop-r1")
    assert job["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_helm_configmap_renders_shift_yaml_from_values(helm: Any) -> None:
    objs = template(helm)
    config = one(objs, "ConfigMap")
    shift = yaml.safe_load(config["data"]["shift.yaml"])
    vals = values()
    for key in ("release", "router", "steps", "bake", "interval", "analysis"):
        assert shift[key] == vals[key], key
    assert shift["namespace"] == "demo"
    job = one(objs, "Job")
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config["metadata"]["name"]}} in volumes
    shifter_config = pytest.importorskip("shifter.config", reason="shifter.config missing")
    assert shifter_config.build_config(shift).release == "shop"


def test_helm_webhook_url_comes_from_the_secret_not_the_configmap(helm: Any) -> None:
    objs = template(helm, "--set-json",
                    'notify=[{"format":"slack","existingSecret":"hooks","key":"slack"}]',
                    "--set", "router.kind=gateway", "--set", "router.ingress=null",
                    "--set", "router.route=shop")
    shift = yaml.safe_load(one(objs, "ConfigMap")["data"]["shift.yaml"])
    assert shift["router"] == {"kind": "gateway", "route": "shop"}
    (hook,) = shift["notify"]
    assert hook == {"format": "slack", "url_env": "SHIFTER_NOTIFY_URL_0"}
    env = one(objs, "Job")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "SHIFTER_NOTIFY_URL_0",
            "valueFrom": {"secretKeyRef": {"name": "hooks", "key": "slack"}}} in env
    for version in K8S_VERSIONS:
        for obj in objs:
            validate_builtin(obj, version)


def test_helm_enforces_the_schema(helm: Any) -> None:
    proc = helm("template", "rollout", str(CHART), "--set", "router.kind=traefik", ok=False)
    assert proc.returncode != 0 and "router" in proc.stderr
    proc = helm("template", "rollout", str(CHART), "--set", "steps=10", ok=False)
    assert proc.returncode != 0 and "steps" in proc.stderr



# --- RBAC per router --------------------------------------------------------------------

ROUTER_VALUES = {
    "nginx": ["--set", "router.kind=nginx"],
    "gateway": ["--set", "router.kind=gateway", "--set", "router.ingress=null"],
    "istio": ["--set", "router.kind=istio", "--set", "router.ingress=null"],
    "service": ["--set", "router.kind=service", "--set", "router.ingress=null"],
}


def roles(objs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    found = by_kind(objs, "Role")
    return found["rollout-shifter"], found["rollout-shifter-operator"]


@pytest.mark.parametrize("router", ROUTERS)
def test_helm_roles_are_rendered_for_the_router_and_equal_the_manifests(
        helm: Any, router: str) -> None:
    runner, operator = roles(template(helm, *ROUTER_VALUES[router]))
    assert grants(runner) == expected_grants(router)
    assert grants(operator) == expected_grants(router, operator=True)
    manifest_runner, manifest_operator = render_roles(router)
    assert grants(runner) == grants(manifest_runner)
    assert grants(operator) == grants(manifest_operator)


def test_helm_role_names_follow_the_values(helm: Any) -> None:
    """Another release, own Service/Deployment names and router object names."""
    runner, operator = roles(template(
        helm, "--set", "release=web", "--set", "router.ingress=web-main",
        "--set", "router.canary_ingress=web-next"))
    assert grants(runner) == (
        expected_grants("nginx", "web") - {g for g in expected_grants("nginx", "web")
                                           if g[1] == "ingresses" and g[3]}
        | {("networking.k8s.io", "ingresses", verb, name) for verb in ("get", "patch")
           for name in ("web-main", "web-next")})
    assert ("coordination.k8s.io", "leases", "patch", "shifter-web") in grants(operator)
    (route,) = {g[3] for g in grants(roles(template(
        helm, *ROUTER_VALUES["gateway"], "--set", "router.route=edge"))[0])
        if g[1] == "httproutes"}
    assert route == "edge"


def test_helm_canary_create_and_operator_role_can_be_left_out(helm: Any) -> None:
    """The values are in values.schema.json, so helm validates them too."""
    objs = template(helm, "--set", "rbac.createCanaryIngress=false",
                    "--set", "rbac.operatorRole=false")
    (runner,) = by_kind(objs, "Role").values()
    assert grants(runner) == expected_grants("nginx", create_canary=False)
    objs = template(helm, "--set-json",
                    'rbac.operatorSubjects=[{"kind":"Group","name":"release-managers",'
                    '"apiGroup":"rbac.authorization.k8s.io"}]')
    binding = by_kind(objs, "RoleBinding")["rollout-shifter-operator"]
    assert binding["roleRef"]["name"] == "rollout-shifter-operator"
    assert binding["subjects"] == [{"kind": "Group", "name": "release-managers",
                                    "apiGroup": "rbac.authorization.k8s.io"}]
    for version in K8S_VERSIONS:
        for obj in objs:
            validate_builtin(obj, version)
