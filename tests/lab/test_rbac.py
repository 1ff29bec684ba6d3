"""The shipped Roles are sufficient, each of their grants is needed, and they reach no other
object, checked in the lab's API emulator (issue 13, defect 11).

The Roles are rendered as a user gets them: ``kubectl kustomize`` of manifests/role.yaml
(the runner: ``shifter run``) and manifests/operator-role.yaml (the operators' commands)
with the router's component (``tests.contract.test_manifests.render_roles``; the chart
renders the same, tests/contract/test_chart.py). Two users with bearer tokens: the runner
(the Job's ServiceAccount) and an operator; the real CLI runs as each.

- sufficient: for each router, two rollouts (blue to green, then back) as the runner, and
  status, pause, resume, abort of a held run and abort with no live runner as the operator,
  succeed with no 403; together they use every (verb, resource, name) each Role grants;
- necessary: without any one verb of any rule, some part fails with one 403 line naming
  the verb and the object, exit 2, nothing changed: a denied read by the read's own 403, a
  denied write by the pre-flight access review before anything is written
  (``shifter/access.py``; Events are best effort: the rollout completes with a warning per
  Event it could not write);
- least: with either Role, every verb on another Service, Ingress, HTTPRoute,
  VirtualService or Lease in the namespace is answered 403, and nothing of them changes.

The emulator's RBAC matches a rule as the API server's does (``lab/apiserver/rbac.py``): a
rule with ``resourceNames`` never matches a ``create`` (the name is not in the URL), nor a
``list`` without a name (kubernetes ``plugin/pkg/auth/authorizer/rbac/rbac.go``:
``RuleAllows`` requires ``ResourceNameMatches(rule, request name)``, from
``pkg/apis/rbac/v1/evaluation_helpers.go``, and a create or list request has no name).
"""

from __future__ import annotations

import copy
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from lab.core import Lab
from tests.contract.test_manifests import grants, render_roles
from tests.lab.cli import Result, Running, config, env, parse, resource_versions, wait_for_split
from tests.lab.cli import command as lab_command

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]

RUNNER = "system:serviceaccount:demo:shifter"
OPERATOR = "alice"
TOKENS = {RUNNER: "rbac-runner-token", OPERATOR: "rbac-operator-token"}  # lab-only
ROUTERS = ("nginx", "gateway", "istio", "service")
FAST = {"bake": "2s", "interval": "1s"}  # min_requests is 20 in `config()`
SLOW = {"bake": "30s", "step_deadline": "60s"}  # a first step that stays put meanwhile
DEPLOY = {"images": {"app": "registry.lab/shop:v2"}}  # a new image: needs patch on Deployments
SCALE_DOWN: dict[str, Any] = {"after_promotion": {"scale_down": "0s"}}  # old colour to 0
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
ROUTER_RESOURCE = {"nginx": ("networking.k8s.io", "ingresses"),
                   "gateway": ("gateway.networking.k8s.io", "httproutes"),
                   "istio": ("networking.istio.io", "virtualservices"),
                   "service": ("", "services")}


def called(path: str, method: str) -> tuple[str, str, str, str]:
    """(group, resource, verb, name) of one request as the RBAC authorizer sees it."""
    parts = path.split("?")[0].strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    else:
        group, rest = parts[1], parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    name = rest[1] if len(rest) > 1 else ""
    verb = _VERBS[method]
    if method == "GET" and len(rest) == 1:
        verb = "watch" if "watch=" in path else "list"
    return group, resource, verb, name


def is_discovery(path: str) -> bool:
    parts = path.split("?")[0].strip("/").split("/")
    return (parts[0] == "api" and len(parts) <= 2) or (parts[0] == "apis" and len(parts) <= 3)


def is_self_review(path: str) -> bool:
    """A SelfSubjectAccessReview: every authenticated user may create one (the
    system:basic-user ClusterRole, bound to system:authenticated), no Role grants it."""
    return path.split("?")[0].rstrip("/") == (
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")


def calls_of(lab: Lab, user: str) -> list[Any]:
    return [r for r in lab.apiserver.requests.snapshot()
            if r.user == user and not is_discovery(r.path) and not is_self_review(r.path)]


def reviews_of(lab: Lab, user: str) -> list[Any]:
    return [r for r in lab.apiserver.requests.snapshot()
            if r.user == user and is_self_review(r.path)]


def forbidden_of(lab: Lab, user: str) -> set[tuple[str, str, str, str]]:
    return {called(r.path, r.method) for r in calls_of(lab, user) if r.status == 403}


def used_of(lab: Lab, user: str) -> set[tuple[str, str, str, str]]:
    return {called(r.path, r.method) for r in calls_of(lab, user)}


class As:
    """Runs the CLI against `lab` as `user`, whose rules are `rules`."""

    def __init__(self, lab: Lab, tmp_path: Path, user: str, rules: list[dict[str, Any]]) -> None:
        self.lab = lab
        self.tmp_path = tmp_path
        lab.apiserver.add_token(TOKENS[user], user)
        lab.apiserver.set_rules(user, rules, namespace=lab.namespace)  # Role + RoleBinding
        self.kubeconfig = lab.apiserver.write_kubeconfig(
            tmp_path / f"kubeconfig-{user.rsplit(':', 1)[-1]}", token=TOKENS[user],
            namespace=lab.namespace)
        self.target: Any = SimpleNamespace(info={**lab.info, "kubeconfig": str(self.kubeconfig)})

    def config_file(self, router: str, **overrides: Any) -> str:
        path = self.tmp_path / f"shift-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(config(self.lab, router, **{**FAST, **overrides})))
        return str(path)

    def shifter(self, *args: str, timeout: float = 90) -> Result:
        proc = subprocess.run(lab_command(self.target, *args), capture_output=True, text=True,
                              timeout=timeout, env=env(), check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr, parse(proc.stdout))

    def run(self, router: str, **overrides: Any) -> Result:
        return self.shifter("run", "shop", "-f", self.config_file(router, **overrides))

    def background(self, router: str, **overrides: Any) -> Running:
        return Running(self.target, "run", "shop", "-f", self.config_file(router, **overrides),
                       log_dir=self.tmp_path)

    def control(self, action: str, *extra: str) -> Result:
        return self.shifter(action, "shop", "-n", self.lab.namespace, *extra)


def users(lab: Lab, tmp_path: Path, router: str, *, runner: list[dict[str, Any]] | None = None,
          operator: list[dict[str, Any]] | None = None) -> tuple[As, As]:
    runner_role, operator_role = render_roles(router)
    return (As(lab, tmp_path, RUNNER, runner if runner is not None else runner_role["rules"]),
            As(lab, tmp_path, OPERATOR,
               operator if operator is not None else operator_role["rules"]))


def granted_match(granted: set[tuple[str, str, str, str]],
                  call: tuple[str, str, str, str]) -> tuple[str, str, str, str] | None:
    """The grant allowing `call` (a `create` grant names no object)."""
    group, resource, verb, name = call
    for key in ((group, resource, verb, name), (group, resource, verb, "")):
        if key in granted:
            return key
    return None


def router_objects(lab: Lab) -> dict[str, str]:
    return {k: v for k, v in resource_versions(lab).items()
            if not k.startswith(("leases/", "events/"))}


def crash_after_first_step(runner: As, lab: Lab, router: str) -> None:
    """A run killed with SIGKILL at step 1; returns once its (2 s) Lease has expired."""
    run = runner.background(router, **SLOW)
    try:
        run.wait_for_event(lambda e: e.get("event") == "step")
    finally:
        run.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lease = lab.apiserver.store.get("coordination.k8s.io/v1", "leases", lab.namespace,
                                        "shifter-shop")
        renew = lease.get("spec", {}).get("renewTime") if lease else None
        if renew is None:
            return
        age = time.time() - datetime.fromisoformat(renew.replace("Z", "+00:00")).timestamp()
        if age > lease["spec"].get("leaseDurationSeconds", 2) + 0.5:
            return
        time.sleep(0.2)
    raise AssertionError("the crashed run's Lease did not expire")


# -- sufficient --------------------------------------------------------------------------


def _operator_steers_a_held_run(runner: As, operator: As, lab: Lab, router: str) -> None:
    run = runner.background(router, **SLOW)
    try:
        run.wait_for_event(lambda e: e.get("event") == "step")
        for action in ("pause", "resume"):
            ctl = operator.control(action, "--wait", "20s")
            assert ctl.code == 0, ctl.stderr
        ctl = operator.control("abort", "--wait", "20s")
        assert ctl.code == 0, ctl.stderr
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4, result.stderr[-3000:]
    wait_for_split(lab, {"blue": 100.0})


@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_rollouts_and_operator_commands_with_the_shipped_roles(
        lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    router = lab.router
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    runner, operator = users(lab, tmp_path, router)
    lab.apiserver.requests.clear()

    # blue -> green deploying a new image; then blue is scaled from 2 to 1 (aftercare; it
    # stays ready for the next)
    there = runner.run(router, deploy=DEPLOY,
                       after_promotion={"scale_down": "0s", "scale_down_to": 1})
    assert there.code == 0, there.stderr[-3000:]
    wait_for_split(lab, {"green": 100.0})
    # green -> blue: the other colour's objects, another image; then green is scaled down
    back = runner.run(router, deploy={"images": {"app": "registry.lab/shop:v3"}}, **SCALE_DOWN)
    assert back.code == 0, back.stderr[-3000:]
    wait_for_split(lab, {"blue": 100.0})
    status = operator.control("status")
    assert status.code == 0 and '"phase": "promoted"' in status.stdout, status.stderr
    undo = operator.control("undo")  # green scaled back up, then all traffic on it
    assert undo.code == 0, undo.stderr
    wait_for_split(lab, {"green": 100.0})
    lab.fault("blue", error_rate=1.0)  # green -> blue reverted: blue's scale-down recorded
    reverted = runner.run(router, after_revert={"scale_down": "1h"})
    assert reverted.code == 3, reverted.stderr[-3000:]
    cleanup = operator.control("cleanup", "--now")  # carried out by an operator
    assert cleanup.code == 0 and "scaled to 0" in cleanup.stdout, cleanup.stderr

    lab.reseed(router)
    _operator_steers_a_held_run(runner, operator, lab, router)
    lab.reseed(router)
    crash_after_first_step(runner, lab, router)
    abort = operator.control("abort")
    assert abort.code == 0, abort.stderr
    wait_for_split(lab, {"blue": 100.0})

    runner_role, operator_role = render_roles(router)
    for user, role in ((RUNNER, runner_role), (OPERATOR, operator_role)):
        assert calls_of(lab, user), f"no request was made with {user}'s token"
        assert forbidden_of(lab, user) == set(), user
        granted = grants(role)
        used = used_of(lab, user)
        assert {granted_match(granted, c) for c in used} == granted, (user, used)


# -- necessary ---------------------------------------------------------------------------


def without(rules: list[dict[str, Any]], index: int, verb: str) -> list[dict[str, Any]]:
    out = copy.deepcopy(rules)
    out[index]["verbs"].remove(verb)
    if not out[index]["verbs"]:
        del out[index]
    return out


def _runner_cases() -> list[tuple[str, int, str]]:
    """(router, rule index, verb): the shared rules once (gateway), each router's own."""
    cases = []
    runner_role, _ = render_roles("gateway")
    base = len(yaml.safe_load((ROOT / "manifests" / "role.yaml").read_text())["rules"])
    for i, rule in enumerate(runner_role["rules"][:base]):
        cases += [("gateway", i, verb) for verb in rule["verbs"]]
    for router in ROUTERS:
        rules = render_roles(router)[0]["rules"]
        cases += [(router, i, verb) for i in range(base, len(rules))
                  for verb in rules[i]["verbs"]]
    return cases


def _case_id(case: tuple[str, int, str]) -> str:
    router, index, verb = case
    rule = render_roles(router)[0]["rules"][index]
    names = "named" if rule.get("resourceNames") else "any"
    return f"{router}-{verb}-{rule['resources'][0]}-{names}"


RUNNER_CASES = _runner_cases()


WRITES = ("create", "update", "patch")


@pytest.mark.parametrize("case", RUNNER_CASES, ids=[_case_id(c) for c in RUNNER_CASES])
def test_each_runner_grant_is_needed(case: tuple[str, int, str], lab_session: Lab,
                                     tmp_path: Path) -> None:
    """Without one verb of one rule, a rollout fails before its first write: one line
    ``error: forbidden: cannot VERB RESOURCE/NAME ...`` and exit 2, with no router object
    or traffic changed. A denied read is the read's own 403; a denied write is found by the
    pre-flight access review (SelfSubjectAccessReview), so no write is even tried. Events
    are the exception (best effort, see the docstring)."""
    router, index, verb = case
    lab = lab_session
    lab.reseed(router)
    rules = render_roles(router)[0]["rules"]
    rule = rules[index]
    runner, _ = users(lab, tmp_path, router, runner=without(rules, index, verb))
    before = router_objects(lab)
    lab.apiserver.requests.clear()
    aftercare = (rule["resources"][0], verb) == ("deployments", "patch")

    result = runner.run(router, **(SCALE_DOWN if aftercare else {}))

    denied = forbidden_of(lab, RUNNER)
    group, resource = rule["apiGroups"][0], rule["resources"][0]
    what = f"{resource}.{group}" if group else resource
    line = f"forbidden: cannot {verb} {what}/"
    if resource == "events":
        assert denied, f"removing {verb} from {rule} forbade nothing"
        assert {(g, r, v) for g, r, v, _ in denied} == {(group, resource, verb)}, denied
        assert result.code == 0, result.stderr[-3000:]
        warnings = [x for x in result.stderr.splitlines()
                    if "could not record a Kubernetes Event" in x]
        assert warnings and all(line in x for x in warnings), result.stderr[-3000:]
        assert f"pre-flight access review: cannot create {what} in namespace" in \
            result.stderr, result.stderr[-3000:]
        wait_for_split(lab, {"green": 100.0})
        return
    assert result.code == 2, result.stderr[-3000:]
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {line}"), result.stderr[-3000:]
    names = rule.get("resourceNames")
    if verb in WRITES:  # found by the review: nothing was written, nothing refused
        assert reviews_of(lab, RUNNER), "no pre-flight access review was made"
        assert denied == set(), denied
        assert "(pre-flight access review)" in errors[0], errors[0]
        named = errors[0][len(f"error: {line}"):].split(" ", 1)[0]
        assert not names or named in names, errors[0]
    else:
        assert {(g, r, v) for g, r, v, _ in denied} == {(group, resource, verb)}, denied
        assert not names or {n for *_, n in denied} <= set(names), denied
    assert result.summary["outcome"] == "error" and result.summary["exit_code"] == 2
    assert router_objects(lab) == before
    assert lab.controller is not None and lab.controller.split.get("blue") == 100.0
    # nothing written at all (a configured scale-down included: refused before anything,
    # not after the promotion)
    assert [(r.method, r.path) for r in calls_of(lab, RUNNER) if r.method != "GET"] == []


def _operator_scenario(router: str, verb: str, resource: str, runner: As, operator: As,
                       lab: Lab) -> Result:
    """The operator command that needs `verb` on `resource`, in the state it needs."""
    if resource == "leases" and verb == "patch":  # a request to a held run
        run = runner.background(router, **SLOW)
        try:
            run.wait_for_event(lambda e: e.get("event") == "step")
            result = operator.control("pause")
            assert run.proc.poll() is None, "the run stopped although the request never came"
            run.signal(signal.SIGTERM)
            assert run.wait(timeout=30).code == 4
        finally:
            run.kill()
        return result
    if verb == "get" and resource == "deployments":  # status of a recorded rollout
        assert runner.run(router).code == 0
        return operator.control("status")
    if verb == "get" and resource == "leases":
        return operator.control("status")
    if resource in ("deployments", "events"):  # undo brings the scaled-down colour back
        promoted = runner.run(router, steps="10,100", **SCALE_DOWN)
        assert promoted.code == 0, promoted.stderr[-3000:]
        return operator.control("undo")
    crash_after_first_step(runner, lab, router)  # update, router get/patch: abort alone
    return operator.control("abort")


@pytest.mark.parametrize("verb,resource", [("get", "leases"), ("patch", "leases"),
                                           ("update", "leases"), ("get", "router"),
                                           ("patch", "router"), ("get", "deployments"),
                                           ("patch", "deployments"), ("create", "events")])
def test_each_operator_grant_is_needed(verb: str, resource: str, lab_gateway: Lab,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without one verb of the operators' Role, the command that needs it fails with the
    403 line (a router or Deployment write that ``undo`` or ``abort`` plans: from the
    pre-flight access review, before it is tried); an abort that cannot take over leaves
    traffic as the crashed run left it."""
    lab, router = lab_gateway, "gateway"
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    rules = render_roles(router)[1]["rules"]
    plural = ROUTER_RESOURCE[router][1] if resource == "router" else resource
    index = next(i for i, r in enumerate(rules) if r["resources"] == [plural])
    runner, operator = users(lab, tmp_path, router, operator=without(rules, index, verb))
    lab.apiserver.requests.clear()

    result = _operator_scenario(router, verb, resource, runner, operator, lab)

    denied = forbidden_of(lab, OPERATOR)
    reviewed = verb == "patch" and resource in ("router", "deployments")
    assert {(r, v) for _, r, v, _ in denied} == (set() if reviewed else {(plural, verb)}), \
        denied
    if reviewed:
        assert "(pre-flight access review)" in result.stderr, result.stderr
    if resource == "deployments" and verb == "get":  # status answers, says what it cannot read
        assert result.code == 0, result.stderr
        assert "forbidden: cannot get deployments.apps/" in result.stdout, result.stdout
        return
    assert f"forbidden: cannot {verb} " in result.stderr, result.stderr
    if resource == "events":  # best effort: undo is done, with a warning
        assert result.code == 0, result.stderr
        wait_for_split(lab, {"blue": 100.0})
        return
    if resource == "deployments":  # undo refused before any traffic moved
        assert result.code == 2, (result.stdout, result.stderr)
        wait_for_split(lab, {"green": 100.0})
        return
    # a denied Lease call, or a router patch found by the review, is invalid input (2); a
    # denied router read fails the revert that `abort` took over (1, "revert ... FAILED",
    # with what to do by hand)
    assert result.code == (1 if (resource, verb) == ("router", "get") else 2), \
        (result.stdout, result.stderr)
    assert forbidden_of(lab, RUNNER) == set()
    if verb != "get" or resource == "router":
        assert lab.controller is not None
        split = lab.controller.split
        assert split.get("green", 0) in (0.0, 10.0), split  # never more than the run left


# -- least -------------------------------------------------------------------------------

OTHERS = [  # (api_version, plural, kind, name): objects shifter has no business with
    ("v1", "services", "Service", "billing"),
    ("networking.k8s.io/v1", "ingresses", "Ingress", "billing"),
    ("gateway.networking.k8s.io/v1", "httproutes", "HTTPRoute", "billing"),
    ("networking.istio.io/v1", "virtualservices", "VirtualService", "billing"),
    ("coordination.k8s.io/v1", "leases", "Lease", "ingress-controller-leader"),
    ("coordination.k8s.io/v1", "leases", "Lease", "shifter-billing"),
]


SPECS = {
    "services": {"selector": {"app": "billing"}, "ports": [{"port": 80}]},
    "ingresses": {"defaultBackend": {"service": {"name": "billing", "port": {"number": 80}}}},
    "httproutes": {"parentRefs": [{"name": "gateway"}],
                   "rules": [{"backendRefs": [{"name": "billing", "port": 80}]}]},
    "virtualservices": {"hosts": ["billing"],
                        "http": [{"route": [{"destination": {"host": "billing"}}]}]},
    "leases": {"holderIdentity": "someone-else", "leaseDurationSeconds": 15},
}


def _seed_others(lab: Lab) -> None:
    store = lab.apiserver.store
    for api_version, plural, kind, name in OTHERS:
        if store.get(api_version, plural, lab.namespace, name) is None:
            store.create({"apiVersion": api_version, "kind": kind,
                          "metadata": {"name": name, "namespace": lab.namespace},
                          "spec": SPECS[plural]})


def _try_everything(client: Any, api_version: str, plural: str, kind: str, name: str,
                    ns: str) -> list[tuple[str, int]]:
    from shifter.errors import KubeError
    from shifter.kube.client import ObjectRef, PatchType

    ref = ObjectRef(api_version, plural, kind, name, ns)
    body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    attempts = {
        "get": lambda: client.get(ref),
        "list": lambda: client.list(ref),
        "patch": lambda: client.patch(ref, {"metadata": {"labels": {"owned": "yes"}}},
                                      PatchType.MERGE),
        "update": lambda: client.replace(ref, body),
        "delete": lambda: client.delete(ref),
    }
    out = []
    for verb, attempt in attempts.items():
        try:
            attempt()
            out.append((verb, 200))
        except KubeError as exc:
            out.append((verb, exc.status))
    return out


def test_the_roles_cannot_touch_another_object(lab_session: Lab, tmp_path: Path) -> None:
    """Every router's runner and operator Role: another Service, Ingress, HTTPRoute,
    VirtualService or Lease in the same namespace cannot be read, listed, patched, replaced
    or deleted (403 each), and nothing of them changed."""
    from shifter.kube.client import load_client

    lab = lab_session
    lab.reseed("gateway")
    _seed_others(lab)
    store = lab.apiserver.store
    present = [o for o in OTHERS if store.get(o[0], o[1], lab.namespace, o[3])]
    assert present == OTHERS
    before = {o: store.get(o[0], o[1], lab.namespace, o[3])["metadata"]["resourceVersion"]
              for o in present}
    allowed = []
    for router in ROUTERS:
        for user, role in zip((RUNNER, OPERATOR), render_roles(router), strict=True):
            person = As(lab, tmp_path, user, role["rules"])
            client = load_client(kubeconfig=str(person.kubeconfig))
            for obj in present:
                for verb, status in _try_everything(client, *obj, lab.namespace):
                    if status != 403:
                        allowed.append((router, user, verb, obj[1], obj[3], status))
    assert allowed == []
    after = {o: store.get(o[0], o[1], lab.namespace, o[3])["metadata"]["resourceVersion"]
             for o in present}
    assert after == before


# -- when the review cannot be made ------------------------------------------------------


def test_without_the_review_a_denied_canary_patch_moves_no_traffic(lab_session: Lab,
                                                                    tmp_path: Path) -> None:
    """A cluster where the review itself is forbidden (system:basic-user unbound): shifter
    warns and goes on, so the runner's missing ``patch`` on Ingresses is met by the write.
    The canary was created at weight 0 (then the patch to 10% refused): no request ever
    reached green."""
    lab = lab_session
    lab.reseed("nginx")
    rules = render_roles("nginx")[0]["rules"]
    index = next(i for i, r in enumerate(rules)
                 if r["resources"] == ["ingresses"] and "patch" in r["verbs"])
    runner, _ = users(lab, tmp_path, "nginx", runner=without(rules, index, "patch"))
    lab.apiserver.authorizer.basic_user = False
    lab.apiserver.requests.clear()
    try:
        result = runner.run("nginx")
    finally:
        lab.apiserver.authorizer.basic_user = True
    assert "pre-flight access review skipped" in result.stderr, result.stderr[-3000:]
    assert {r.status for r in reviews_of(lab, RUNNER)} == {403}
    assert result.code == 2, result.stderr[-3000:]
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: forbidden: cannot patch ingresses.networking.k8s.io/shop-canary "), errors
    canary = lab.apiserver.store.get("networking.k8s.io/v1", "ingresses", lab.namespace,
                                     "shop-canary")
    assert canary is not None
    assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    assert lab.controller is not None and lab.controller.split.get("blue") == 100.0


def test_a_resumed_rollout_refused_by_the_review_puts_the_traffic_back_first(
        lab_session: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed at 10% on green; the next run may write the router but not the
    Deployments it now needs (a scale-down after the promotion): the review refuses it
    (exit 2), and the crashed run's unverified 10% is reverted first, as a refused
    pre-flight check does (``rollout._revert_unverified``), not left on green."""
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    lab = lab_session
    lab.reseed("gateway")
    rules = render_roles("gateway")[0]["rules"]
    runner, _ = users(lab, tmp_path, "gateway")
    crash_after_first_step(runner, lab, "gateway")
    wait_for_split(lab, {"blue": 90.0, "green": 10.0}, timeout=10)
    index = next(i for i, r in enumerate(rules)
                 if r["resources"] == ["deployments"] and "patch" in r["verbs"])
    lab.apiserver.set_rules(RUNNER, without(rules, index, "patch"), namespace=lab.namespace)
    result = runner.run("gateway", **SLOW, **SCALE_DOWN)
    assert result.code == 2, result.stderr[-3000:]
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and "cannot patch deployments.apps/" in errors[0], errors
    assert "(pre-flight access review)" in errors[0], errors
    wait_for_split(lab, {"blue": 100.0}, timeout=10)


def test_a_dry_run_finds_a_missing_lease_permission(lab_session: Lab, tmp_path: Path) -> None:
    """``--dry-run`` sends the router's writes with dryRun=All (RBAC checks those) but
    cannot try the Lease: the access review finds a runner that may not update it."""
    lab = lab_session
    lab.reseed("gateway")
    rules = render_roles("gateway")[0]["rules"]
    index = next(i for i, r in enumerate(rules)
                 if r["resources"] == ["leases"] and "update" in r["verbs"])
    runner, _ = users(lab, tmp_path, "gateway", runner=without(rules, index, "update"))
    before = router_objects(lab)
    result = runner.shifter("run", "shop", "-f", runner.config_file("gateway"), "--dry-run")
    assert result.code == 2, result.stderr[-3000:]
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: forbidden: cannot update leases.coordination.k8s.io/shifter-shop"), errors
    assert router_objects(lab) == before
