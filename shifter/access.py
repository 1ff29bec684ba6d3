"""Pre-flight access review: before its first write, a command asks the API server whether
every write it plans is allowed, so a missing permission is exit 2 with nothing changed,
never a 403 after traffic moved.

Each planned write (``Access``: a verb on an object) becomes one ``SelfSubjectAccessReview``
(``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews``), all sent at once. The
API server answers from the caller's own RBAC rules; in a real cluster every authenticated
user may create these reviews (the ``system:basic-user`` ClusterRole, bound to
``system:authenticated``), so no Role needs a rule for them.

- A ``create`` is reviewed without a name: the API server authorizes a create without one
  (the name is in the body), so a rule with ``resourceNames`` never allows it; a review
  naming the object would say "allowed" where the create is then refused.
- A denied write the command needs: ``Forbidden`` (exit 2), one line naming the verb and
  the object: ``forbidden: cannot patch ingresses.networking.k8s.io/shop-canary in
  namespace demo (pre-flight access review): ...``.
- A denied write that is best effort (``required=False``: Events): a warning.
- The review cannot be made (404: a server without the API; 403: the review itself is
  forbidden; 5xx, unreachable, slow): a warning, and the command carries on; each write's
  own 403 handling stays.

The pure parts (``review_body``, ``verdict``, ``refusal``) are tested without I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from shifter.errors import Forbidden, ShifterError
from shifter.kube.client import KubeClient, ObjectRef, bounded

log = structlog.get_logger("shifter.access")

PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
REQUEST_TIMEOUT = 3.0  # seconds one review may take; then the command carries on
MAX_PARALLEL = 8


@dataclass(frozen=True)
class Access:
    """One write a command plans: ``verb`` on ``ref`` (for a create, ``ref.name`` is the
    name the object will get; it is shown, not reviewed)."""

    verb: str
    ref: ObjectRef
    required: bool = True  # False: best effort (a denial is a warning)
    why: str = ""  # what needs it, for the warning of a best-effort denial

    @property
    def group(self) -> str:
        return self.ref.api_version.split("/")[0] if "/" in self.ref.api_version else ""

    @property
    def what(self) -> str:
        """``ingresses.networking.k8s.io/shop-canary in namespace demo``."""
        res = f"{self.ref.plural}.{self.group}" if self.group else self.ref.plural
        where = f" in namespace {self.ref.namespace}" if self.ref.namespace else ""
        return f"{res}/{self.ref.name}{where}" if self.ref.name else f"{res}{where}"


def review_body(access: Access) -> dict[str, Any]:
    """The SelfSubjectAccessReview asking whether ``access`` is allowed (pure)."""
    attrs: dict[str, Any] = {"verb": access.verb, "group": access.group,
                             "resource": access.ref.plural}
    if access.ref.namespace:
        attrs["namespace"] = access.ref.namespace
    if access.verb != "create" and access.ref.name:
        attrs["name"] = access.ref.name
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs}}


def verdict(answer: dict[str, Any]) -> tuple[bool, str]:
    """(allowed, the server's reason or evaluation error) of a review's answer (pure)."""
    status = answer.get("status") or {}
    why = str(status.get("reason") or status.get("evaluationError") or "")
    return status.get("allowed") is True, why


def refusal(denied: Sequence[tuple[Access, str]]) -> Forbidden:
    """One line for the denied writes a command needs, the first in full (pure)."""
    first, why = denied[0]
    text = (f"forbidden: cannot {first.verb} {first.what} (pre-flight access review): "
            f"{why or 'no Role or ClusterRole bound to this user allows it'}")
    if len(denied) > 1:
        text += "; also denied: " + ", ".join(f"{a.verb} {a.what}" for a, _ in denied[1:])
    return Forbidden(text, status=403, reason="Forbidden")


class _Unreviewable(Exception):
    """The review could not be made; ``args[0]`` says why."""


def _ask(client: KubeClient, access: Access) -> tuple[bool, str]:
    try:
        answer = client.request("POST", PATH, body=review_body(access),
                                what="selfsubjectaccessreviews.authorization.k8s.io")
    except (ShifterError, ValueError) as exc:  # ValueError: an answer that is not JSON
        status = getattr(exc, "status", 0)
        if status == 404:
            raise _Unreviewable("the API server does not serve SelfSubjectAccessReview") \
                from exc
        raise _Unreviewable(str(exc)) from exc
    return verdict(answer)


def review(client: KubeClient, planned: Iterable[Access]) -> int:
    """Ask about every planned write at once; raise ``Forbidden`` for a needed one that is
    denied, warn for a best-effort one; carry on (warning) when the review cannot be made.
    Return how many writes the server said are allowed."""
    wanted = list(dict.fromkeys(planned))
    if not wanted:
        return 0
    api = bounded(client, REQUEST_TIMEOUT)
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(wanted)),
                            thread_name_prefix="shifter-access") as pool:
        futures = [pool.submit(_ask, api, a) for a in wanted]
        answers: list[tuple[bool, str] | _Unreviewable] = []
        for f in futures:
            try:
                answers.append(f.result())
            except _Unreviewable as exc:
                answers.append(exc)
    skipped = [a for a in answers if isinstance(a, _Unreviewable)]
    if skipped:
        log.warning("pre-flight access review skipped; a missing permission is found by the "
                    "write that needs it", reason=str(skipped[0].args[0]))
    denied = [(a, got[1]) for a, got in zip(wanted, answers, strict=True)
              if isinstance(got, tuple) and not got[0]]
    for a, _ in denied:
        if not a.required:
            log.warning(f"pre-flight access review: cannot {a.verb} {a.what}; "
                        f"{a.why or 'it is best effort'}")
    needed = [(a, why) for a, why in denied if a.required]
    if needed:
        raise refusal(needed)
    return sum(1 for got in answers if isinstance(got, tuple) and got[0])


# -- what each command writes ------------------------------------------------------------

class _Routed(Protocol):
    def objects(self) -> list[ObjectRef]: ...


def router_writes(router: _Routed) -> list[Access]:
    """The router's writes: its own ``writes()`` when it has one (e.g. nginx creates a
    missing canary), else a patch of each of its objects."""
    writes: Callable[[], list[tuple[str, ObjectRef]]] | None = getattr(router, "writes", None)
    if writes is None:
        return [Access("patch", ref) for ref in router.objects()]
    from shifter import retry

    pairs = retry.kube(writes, what="read the router")
    return [Access(verb, ref) for verb, ref in pairs]


def lease_writes(ref: ObjectRef, *, exists: bool) -> list[Access]:
    """The Lease: created when there is none, then renewed and written with update."""
    return ([] if exists else [Access("create", ref)]) + [Access("update", ref)]


def event_writes(namespace: str) -> list[Access]:
    """core/v1 Events: best effort."""
    return [Access("create", ObjectRef("v1", "events", "Event", "", namespace),
                   required=False, why="the rollout goes on without Kubernetes Events")]


def deployment_writes(namespace: str, names: Iterable[str]) -> list[Access]:
    return [Access("patch", ObjectRef("apps/v1", "deployments", "Deployment", n, namespace))
            for n in names]


def run_writes(cfg: Any, router: _Routed, namespace: str, lease: ObjectRef, *,
               lease_exists: bool, aftercare_due: bool = False) -> list[Access]:
    """Every write ``shifter run`` of ``cfg`` plans: the router's, the Lease's, the
    colours' Deployments' (``deploy`` changes the pod template; a scale-down is
    configured or due from the previous rollout) and Events (best effort)."""
    out = router_writes(router) + lease_writes(lease, exists=lease_exists)
    scales = (cfg.after_promotion.scale_down is not None
              or cfg.after_revert.scale_down is not None or aftercare_due)
    if cfg.deploy.changes_template or scales:
        out += deployment_writes(namespace, dict.fromkeys(cfg.deployment(c)
                                                          for c in ("blue", "green")))
    return out + event_writes(namespace)


def review_run(client: KubeClient, cfg: Any, router: _Routed, namespace: str,
               lease: ObjectRef, current: dict[str, Any] | None,
               emit: Callable[..., Any] | None = None) -> None:
    """``review`` of ``run_writes``; ``current`` is the Lease as read (None: none yet);
    ``emit`` reports the result as a ``preflight`` event."""
    from shifter.lease import state_of
    from shifter.record import RecordError, parse_record

    try:
        record = parse_record(state_of(current))
    except RecordError:
        record = None
    planned = run_writes(cfg, router, namespace, lease, lease_exists=current is not None,
                         aftercare_due=record is not None and record.aftercare is not None)
    allowed = review(client, planned)
    if emit is not None and allowed:
        emit("preflight", check="access",
             message=f"{allowed} of {len(planned)} planned writes allowed "
                     f"(SelfSubjectAccessReview)")
