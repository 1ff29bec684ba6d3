"""The pre-flight access review (shifter/access.py): what is asked, and what an answer means."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from structlog.testing import capture_logs

from shifter import access
from shifter.access import Access, refusal, review, review_body, verdict
from shifter.errors import Forbidden, KubeError, NotFound
from shifter.kube.client import KubeClient, ObjectRef

NS = "demo"
CANARY = ObjectRef("networking.k8s.io/v1", "ingresses", "Ingress", "shop-canary", NS)
MAIN = CANARY.named("shop")
LEASE = ObjectRef("coordination.k8s.io/v1", "leases", "Lease", "shifter-shop", NS)
EVENTS = access.event_writes(NS)[0]


def test_review_body_names_the_object_except_for_a_create() -> None:
    assert review_body(Access("patch", CANARY)) == {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "patch", "group": "networking.k8s.io",
                                        "resource": "ingresses", "namespace": NS,
                                        "name": "shop-canary"}}}
    # a create request carries no name for the authorizer; a named review would be allowed
    # by a rule with resourceNames that refuses the create itself
    attrs = review_body(Access("create", CANARY))["spec"]["resourceAttributes"]
    assert "name" not in attrs and attrs["verb"] == "create"
    core = review_body(EVENTS)["spec"]["resourceAttributes"]
    assert core == {"verb": "create", "group": "", "resource": "events", "namespace": NS}


def test_verdict_and_the_refusal_line() -> None:
    assert verdict({"status": {"allowed": True, "reason": "RBAC: allowed"}}) == (
        True, "RBAC: allowed")
    assert verdict({"status": {"allowed": False}}) == (False, "")
    assert verdict({"status": {"allowed": False, "evaluationError": "x"}}) == (False, "x")
    assert verdict({}) == (False, "")
    err = refusal([(Access("patch", CANARY), ""), (Access("create", LEASE), "")])
    assert isinstance(err, Forbidden) and err.exit_code == 2
    assert str(err) == ("forbidden: cannot patch ingresses.networking.k8s.io/shop-canary in "
                        "namespace demo (pre-flight access review): no Role or ClusterRole "
                        "bound to this user allows it; also denied: create "
                        "leases.coordination.k8s.io/shifter-shop in namespace demo")
    assert "\n" not in str(err)


class Reviewer(KubeClient):
    """Answers reviews from a set of allowed (verb, resource, name); counts them."""

    def __init__(self, allowed: set[tuple[str, str, str]], *, fail: KubeError | None = None,
                 barrier: int = 0) -> None:
        self.allowed = allowed
        self.fail = fail
        self.asked: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(barrier) if barrier else None
        self.request_timeout = 10.0

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        assert (method, path) == ("POST", access.PATH)
        attrs = kwargs["body"]["spec"]["resourceAttributes"]
        with self.lock:
            self.asked.append(attrs)
        if self.barrier is not None:  # every review is in flight at once
            self.barrier.wait(timeout=5)
        if self.fail is not None:
            raise self.fail
        key = (attrs["verb"], attrs["resource"], attrs.get("name", ""))
        return {"status": {"allowed": key in self.allowed}}


PLAN = [Access("patch", CANARY), Access("patch", MAIN), Access("create", CANARY),
        Access("update", LEASE), EVENTS]
ALL = {("patch", "ingresses", "shop-canary"), ("patch", "ingresses", "shop"),
       ("create", "ingresses", ""), ("update", "leases", "shifter-shop"),
       ("create", "events", "")}


def test_all_allowed_asks_each_once_and_concurrently() -> None:
    client = Reviewer(ALL, barrier=len(PLAN))  # deadlocks (BrokenBarrier) if sequential
    assert review(client, [*PLAN, PLAN[0]]) == len(PLAN)
    assert len(client.asked) == len(PLAN)


def test_a_denied_needed_write_is_forbidden_naming_it() -> None:
    client = Reviewer(ALL - {("patch", "ingresses", "shop-canary")})
    with pytest.raises(Forbidden, match=r"^forbidden: cannot patch "
                                        r"ingresses\.networking\.k8s\.io/shop-canary in "
                                        r"namespace demo \(pre-flight access review\)"):
        review(client, PLAN)


def test_denied_events_are_a_warning() -> None:
    client = Reviewer(ALL - {("create", "events", "")})
    with capture_logs() as logs:
        assert review(client, PLAN) == len(PLAN) - 1
    assert [e["log_level"] for e in logs] == ["warning"]
    assert "cannot create events in namespace demo" in logs[0]["event"]


@pytest.mark.parametrize("fail", [NotFound("not found", status=404),
                                  Forbidden("forbidden: cannot create ...", status=403),
                                  KubeError("create: Internal error", status=500)])
def test_a_review_that_cannot_be_made_is_skipped(fail: KubeError) -> None:
    with capture_logs() as logs:
        assert review(Reviewer(set(), fail=fail), PLAN) == 0  # no refusal: writes decide
    assert [e["event"].split(";")[0] for e in logs] == ["pre-flight access review skipped"]


class Config:
    class _Scale:
        scale_down: float | None = None

    class _Deploy:
        changes_template = False

    after_promotion = _Scale()
    after_revert = _Scale()
    deploy = _Deploy()

    @staticmethod
    def deployment(colour: str) -> str:
        return f"shop-{colour}"


class Router:
    def objects(self) -> list[ObjectRef]:
        return [MAIN]


def test_run_writes_follow_the_plan() -> None:
    cfg = Config()
    plain = access.run_writes(cfg, Router(), NS, LEASE, lease_exists=True)
    assert [(a.verb, a.ref.plural, a.required) for a in plain] == [
        ("patch", "ingresses", True), ("update", "leases", True), ("create", "events", False)]
    first = access.run_writes(cfg, Router(), NS, LEASE, lease_exists=False, aftercare_due=True)
    assert [(a.verb, a.ref.plural, a.ref.name) for a in first] == [
        ("patch", "ingresses", "shop"), ("create", "leases", "shifter-shop"),
        ("update", "leases", "shifter-shop"), ("patch", "deployments", "shop-blue"),
        ("patch", "deployments", "shop-green"), ("create", "events", "")]
