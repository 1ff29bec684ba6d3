"""The shipped Role is sufficient and minimal, checked in the lab's API emulator (issue 6).

Every test runs the real CLI with a bearer token whose user has the rules of
``manifests/role.yaml`` (loaded into the emulator's RBAC with ``load_role``), or those rules
with one removed:

- sufficient: for each router, a full rollout (run to promotion, status, an abort from
  another process and, for nginx, a resume after ``kill -9``) succeeds, and no request
  of that user was answered 403;
- minimal, per rule: removing it makes some part of a rollout fail with one clear 403 line
  naming the verb and resource, and nothing changed; the requests each router's rollout made
  with the full Role use every verb of every rule (so no verb is granted for nothing).
"""

from __future__ import annotations

import copy
import re
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from lab.core import Lab
from tests.lab.cli import Result, Running, config, env, parse, resource_versions, wait_for_split
from tests.lab.cli import command as lab_command

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ROLE: dict[str, Any] = yaml.safe_load((ROOT / "manifests" / "role.yaml").read_text())
USER = "system:serviceaccount:demo:shifter"
TOKEN = "rbac-test-token"  # a lab-only bearer token for USER
ROUTERS = ("nginx", "gateway", "istio", "service")
FAST = {"bake": "2s", "interval": "1s"}  # min_requests is 20 in `config()`
SLOW = {"bake": "30s", "step_deadline": "60s"}  # a first step that stays put while aborted
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_GROUPS = {"ingresses": "networking.k8s.io", "httproutes": "gateway.networking.k8s.io",
           "virtualservices": "networking.istio.io", "services": "", "deployments": "apps",
           "leases": "coordination.k8s.io", "events": ""}

# What each router's rollout (run, status, abort, resume) asks the API server for, as
# (verb, "resource.group"). Their union must be exactly the Role's grants.
_COMMON = {("get", "services"), ("get", "deployments.apps"),
           ("get", "leases.coordination.k8s.io"), ("create", "leases.coordination.k8s.io"),
           ("update", "leases.coordination.k8s.io"), ("patch", "leases.coordination.k8s.io"),
           ("create", "events")}
NEEDS: dict[str, set[tuple[str, str]]] = {
    "nginx": _COMMON | {("get", "ingresses.networking.k8s.io"),
                        ("create", "ingresses.networking.k8s.io"),
                        ("patch", "ingresses.networking.k8s.io")},
    "gateway": _COMMON | {("get", "httproutes.gateway.networking.k8s.io"),
                          ("patch", "httproutes.gateway.networking.k8s.io")},
    "istio": _COMMON | {("get", "virtualservices.networking.istio.io"),
                        ("patch", "virtualservices.networking.istio.io")},
    "service": _COMMON | {("patch", "services")},
}
RESUME = ("nginx",)  # kill -9 and resume (about 12 s): one router keeps the file under budget

# Per rule: the router whose rollout needs it, and the first call its absence forbids.
MINIMAL = {
    "ingresses": ("nginx", "get", "ingresses.networking.k8s.io/shop"),
    "httproutes": ("gateway", "get", "httproutes.gateway.networking.k8s.io/shop"),
    "virtualservices": ("istio", "get", "virtualservices.networking.istio.io/shop"),
    "services": ("service", "get", "services/shop"),
    "deployments": ("nginx", "get", "deployments.apps/shop-green"),
    "leases": ("gateway", "get", "leases.coordination.k8s.io/shifter-shop"),
    "events": ("service", "create", "events/"),  # the service router's rollout is shortest
}


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    out = set()
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((verb, f"{resource}.{group}" if group else resource))
    return out


def is_discovery(path: str) -> bool:
    parts = path.split("?")[0].strip("/").split("/")
    return (parts[0] == "api" and len(parts) <= 2) or (parts[0] == "apis" and len(parts) <= 3)


def called(path: str, method: str) -> tuple[str, str]:
    """(verb, "resource.group") of one request path as the RBAC authorizer sees it."""
    parts = path.split("?")[0].strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    else:
        group, rest = parts[1], parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    verb = _VERBS[method]
    if method == "GET" and len(rest) == 1:
        verb = "watch" if "watch=" in path else "list"
    return verb, f"{resource}.{group}" if group else resource


def of_user(lab: Lab) -> list[Any]:
    return [r for r in lab.apiserver.requests.snapshot() if r.user == USER]


class AsUser:
    """Runs the CLI against `lab` with a kubeconfig holding USER's token (namespace demo)."""

    def __init__(self, lab: Lab, tmp_path: Path, rules: list[dict[str, Any]]) -> None:
        self.lab = lab
        self.tmp_path = tmp_path
        lab.apiserver.add_token(TOKEN, USER)
        if rules == ROLE["rules"]:
            lab.apiserver.load_role(USER, ROLE)
        else:
            lab.apiserver.set_rules(USER, rules)
        kubeconfig = lab.apiserver.write_kubeconfig(tmp_path / "kubeconfig-rbac", token=TOKEN,
                                                    namespace=lab.namespace)
        # `tests.lab.cli` only reads `info["kubeconfig"]` from the lab it is given
        self.target: Any = SimpleNamespace(info={**lab.info, "kubeconfig": str(kubeconfig)})

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


def forbidden_of(lab: Lab) -> list[str]:
    """The user's requests answered 403, as "METHOD path"."""
    return [f"{r.method} {r.path}" for r in of_user(lab) if r.status == 403]


def denied_calls(denied: list[str]) -> set[tuple[str, str]]:
    return {called(path, method) for method, path in (d.split(" ", 1) for d in denied)}


# -- sufficient --------------------------------------------------------------------------


def test_needs_cover_exactly_the_role() -> None:
    """Every verb the Role grants is one some router's rollout uses, and nothing more."""
    assert set().union(*NEEDS.values()) == granted(ROLE["rules"])
    assert len(ROLE["rules"]) == len(MINIMAL) == 7
    assert {r["resources"][0] for r in ROLE["rules"]} == set(MINIMAL)


def _abort_from_another_process(user: AsUser, lab: Lab, router: str) -> None:
    run = user.background(router, **SLOW)
    try:
        run.wait_for_event(lambda e: e.get("event") == "step")
        ctl = user.shifter("abort", "shop", "-n", lab.namespace, "--wait", "20s")
        assert ctl.code == 0, ctl.stderr
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4, result.stderr[-3000:]
    assert result.summary["outcome"] == "aborted"
    wait_for_split(lab, {"blue": 100.0})


def _kill_then_resume(user: AsUser, lab: Lab, router: str) -> None:
    run = user.background(router, bake="3s")
    try:
        run.wait_for_event(lambda e: e.get("event") == "step" and e.get("weight") == 50)
    finally:
        run.kill()  # SIGKILL to the process group: no revert, the Lease stays held
    deadline = time.monotonic() + 15
    while True:  # the lock frees itself once the (2 s) Lease expires
        again = user.run(router, bake="2s")
        if again.code != 6 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert again.code == 0, again.stderr[-3000:]
    assert any(e.get("check") == "resume" for e in again.of("preflight"))
    assert [e["weight"] for e in again.of("step")] == [50, 100]
    wait_for_split(lab, {"green": 100.0})


@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_full_rollout_with_the_shipped_role(lab: Lab, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    router = lab.router
    user = AsUser(lab, tmp_path, ROLE["rules"])
    lab.apiserver.requests.clear()

    result = user.run(router)
    assert result.code == 0, result.stderr[-3000:]
    assert result.summary["outcome"] == "promoted"
    wait_for_split(lab, {"green": 100.0})
    status = user.shifter("status", "shop", "-n", lab.namespace)
    assert status.code == 0, status.stderr
    assert '"phase": "promoted"' in status.stdout

    lab.reseed(router)
    _abort_from_another_process(user, lab, router)

    if router in RESUME:
        monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
        lab.reseed(router)
        _kill_then_resume(user, lab, router)

    requests = of_user(lab)
    assert requests, "no request was made with the RBAC user's token"
    assert forbidden_of(lab) == []
    # Discovery (/apis/<group>) is open to every authenticated user, as on a real cluster.
    used = {called(r.path, r.method) for r in requests if not is_discovery(r.path)}
    assert used == NEEDS[router]


# -- minimal -----------------------------------------------------------------------------


def _without(resource: str) -> list[dict[str, Any]]:
    rules = [copy.deepcopy(r) for r in ROLE["rules"] if r["resources"] != [resource]]
    assert len(rules) == len(ROLE["rules"]) - 1
    return rules


def _router_objects(lab: Lab) -> dict[str, str]:
    return {k: v for k, v in resource_versions(lab).items()
            if not k.startswith(("leases/", "events/"))}


@pytest.mark.parametrize("resource", list(MINIMAL))
def test_each_rule_is_needed(resource: str, lab_session: Lab, tmp_path: Path) -> None:
    """Without any one rule, a rollout fails at the first call that rule allowed: one line
    ``error: forbidden: cannot VERB RESOURCE.GROUP/NAME ...`` and exit 2, with no router
    object or traffic changed.

    The exception is ``events``: Events are best effort in shifter (``shifter/kevents.py``),
    so without that rule the rollout still completes, and each Event it could not write is
    a warning on stderr naming the 403. The rule stays in the Role because ``kubectl
    describe`` on the router object is where users look for the rollout's history.
    """
    router, verb, target = MINIMAL[resource]
    lab = lab_session
    lab.reseed(router)
    user = AsUser(lab, tmp_path, _without(resource))
    before = _router_objects(lab)
    lab.apiserver.requests.clear()

    result = user.run(router)

    denied = forbidden_of(lab)
    assert denied, f"removing the {resource} rule forbade nothing"
    group = _GROUPS[resource]
    assert denied_calls(denied) == {(verb, f"{resource}.{group}" if group else resource)}, denied
    line = f"forbidden: cannot {verb} {target}"
    if resource == "events":
        assert result.code == 0, result.stderr[-3000:]
        assert result.summary["outcome"] == "promoted"
        warnings = [x for x in result.stderr.splitlines()
                    if "could not record a Kubernetes Event" in x]
        assert warnings, result.stderr[-3000:]
        assert all(line in x for x in warnings), warnings
        wait_for_split(lab, {"green": 100.0})
        return
    assert result.code == 2, result.stderr[-3000:]
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert re.match(rf"error: {re.escape(line)}\S* in {lab.namespace}: .*forbidden", errors[0]), \
        errors[0]
    assert result.summary["outcome"] == "error" and result.summary["exit_code"] == 2
    assert _router_objects(lab) == before
    assert lab.controller is not None and lab.controller.split.get("blue") == 100.0


def test_first_run_needs_lease_create(lab_gateway: Lab, tmp_path: Path) -> None:
    """`create` on Leases (the lock is taken with the rollout's first write): without it a
    first run stops before any write, exit 2, with the 403 line."""
    lab = lab_gateway
    rules = copy.deepcopy(ROLE["rules"])
    next(r for r in rules if r["resources"] == ["leases"])["verbs"].remove("create")
    user = AsUser(lab, tmp_path, rules)
    before = _router_objects(lab)
    result = user.run("gateway")
    assert result.code == 2, result.stderr[-3000:]
    assert result.stderr.startswith(
        "error: forbidden: cannot create leases.coordination.k8s.io/shifter-shop in demo: "
    ), result.stderr[-3000:]
    assert _router_objects(lab) == before
    assert lab.controller is not None and lab.controller.split.get("blue") == 100.0


def test_abort_needs_lease_patch(lab_gateway: Lab, tmp_path: Path) -> None:
    """`patch` on Leases is only used by the control commands (abort, pause, resume,
    promote) from another shell: without it, `abort` fails with exit 2 and the 403 line,
    and the run it could not reach is unaffected."""
    lab = lab_gateway
    rules = copy.deepcopy(ROLE["rules"])
    lease_rule = next(r for r in rules if r["resources"] == ["leases"])
    lease_rule["verbs"] = [v for v in lease_rule["verbs"] if v != "patch"]
    user = AsUser(lab, tmp_path, rules)
    run = user.background("gateway", **SLOW)
    try:
        run.wait_for_event(lambda e: e.get("event") == "step")
        ctl = user.shifter("abort", "shop", "-n", lab.namespace)
        assert ctl.code == 2, ctl.stderr
        assert "forbidden: cannot patch leases.coordination.k8s.io/shifter-shop" in ctl.stderr
        assert run.proc.poll() is None, "the run stopped although the abort never reached it"
        run.signal(signal.SIGTERM)
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4
    wait_for_split(lab, {"blue": 100.0})
