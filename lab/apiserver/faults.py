"""Fault injection rules, switchable at run time (in-process or over HTTP).

Besides errors, latency, 409s and dropped connections, two faults model a write whose
outcome the client cannot know, as with a real API server behind a load balancer or under
its request timeout:

- ``lost_answer`` ("timeout", "504" or "reset") on the next ``lost_writes`` matching writes:
  the write is APPLIED, then the answer is lost: held until ``lost_after`` seconds passed
  and the connection closed (the client times out), a 504 Timeout (what kube-apiserver's
  timeout filter answers while the request may still complete: apimachinery
  pkg/api/errors.NewTimeoutError, staging/src/k8s.io/apiserver/pkg/server/filters/
  timeout.go), or a reset connection;
- ``apply_delay`` on the next ``delayed_writes`` matching writes: the server waits that long,
  THEN applies the write (whether or not the client is still there) and answers.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ApiError, internal, too_many_requests, unavailable

LOST_ANSWERS = ("timeout", "504", "reset")

READ_VERBS = {"get", "list", "watch"}


@dataclass
class FaultRule:
    """One fault rule: which requests it matches and what it does to them."""

    resource: str | None = None  # plural, e.g. "ingresses"; None = all
    namespace: str | None = None
    name: str | None = None
    verbs: str = "all"  # "all", "read" or "write"
    latency: float = 0.0  # seconds added before answering
    error_rate: float = 0.0  # fraction of requests answered error_code
    error_code: int = 500  # 500, 503 or 429
    conflicts: int = 0  # the next N matching writes are answered 409 Conflict
    drop_rate: float = 0.0  # fraction of requests whose connection is closed unanswered
    lost_answer: str = ""  # "", "timeout", "504" or "reset": applied, then the answer lost
    lost_writes: int = 0  # how many of the next matching writes lose their answer
    lost_after: float = 15.0  # "timeout": seconds the answer is held before closing
    apply_delay: float = 0.0  # seconds the next delayed_writes writes wait, then apply
    delayed_writes: int = 0

    def matches(self, verb: str, plural: str, namespace: str, name: str) -> bool:
        if self.resource not in (None, plural):
            return False
        if self.namespace not in (None, namespace) or self.name not in (None, name):
            return False
        if self.verbs == "read":
            return verb in READ_VERBS
        if self.verbs == "write":
            return verb not in READ_VERBS
        return True


@dataclass
class Decision:
    """What to do with one request."""

    latency: float = 0.0
    drop: bool = False
    error: ApiError | None = None
    conflict: bool = False
    lost_answer: str = ""  # after the write is applied: lose its answer this way
    lost_after: float = 0.0


_FIELDS = set(FaultRule.__dataclass_fields__)


class Faults:
    """The active fault rules. `set` adds (or replaces, same selector) a rule."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)

    def set(
        self,
        *,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        verbs: str = "all",
        latency: float = 0.0,
        error_rate: float = 0.0,
        error_code: int = 500,
        conflicts: int = 0,
        drop_rate: float = 0.0,
        lost_answer: str = "",
        lost_writes: int = 0,
        lost_after: float = 15.0,
        apply_delay: float = 0.0,
        delayed_writes: int = 0,
    ) -> None:
        if verbs not in ("all", "read", "write"):
            raise ValueError(f"verbs: expected 'all', 'read' or 'write', got {verbs!r}")
        if error_code not in (429, 500, 503, 504):
            raise ValueError(f"error_code: expected 429, 500, 503 or 504, got {error_code!r}")
        if lost_answer not in ("", *LOST_ANSWERS):
            raise ValueError(f"lost_answer: expected one of {', '.join(LOST_ANSWERS)}, got "
                             f"{lost_answer!r}")
        if min(lost_writes, delayed_writes) < 0 or min(lost_after, apply_delay) < 0:
            raise ValueError("lost_writes, delayed_writes, lost_after and apply_delay: "
                             "expected values >= 0")
        for label, value in (("error_rate", error_rate), ("drop_rate", drop_rate)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{label}: expected a fraction between 0 and 1, got {value!r}")
        if latency < 0 or conflicts < 0:
            raise ValueError("latency and conflicts: expected values >= 0")
        rule = FaultRule(resource, namespace, name, verbs, float(latency), float(error_rate),
                         int(error_code), int(conflicts), float(drop_rate), lost_answer,
                         int(lost_writes), float(lost_after), float(apply_delay),
                         int(delayed_writes))
        with self._lock:
            self._rules = [r for r in self._rules
                           if (r.resource, r.namespace, r.name, r.verbs)
                           != (resource, namespace, name, verbs)]
            self._rules.append(rule)

    def set_from_dict(self, spec: dict[str, Any]) -> None:
        unknown = set(spec) - _FIELDS
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}; "
                             f"expected some of {', '.join(sorted(_FIELDS))}")
        self.set(**spec)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def decide(self, verb: str, plural: str, namespace: str, name: str) -> Decision:
        """Roll the dice for one request (consumes one conflict of a matching write rule)."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(verb, plural, namespace, name):
                    continue
                decision.latency += rule.latency
                if rule.drop_rate and self._random.random() < rule.drop_rate:
                    decision.drop = True
                if decision.error is None and rule.error_rate and \
                        self._random.random() < rule.error_rate:
                    decision.error = _error(rule.error_code)
                if verb not in READ_VERBS and rule.conflicts > 0 and not decision.conflict:
                    rule.conflicts -= 1
                    decision.conflict = True
                if verb not in READ_VERBS and rule.delayed_writes > 0:
                    rule.delayed_writes -= 1
                    decision.latency += rule.apply_delay
                if verb not in READ_VERBS and rule.lost_writes > 0 and rule.lost_answer \
                        and not decision.lost_answer:
                    rule.lost_writes -= 1
                    decision.lost_answer = rule.lost_answer
                    decision.lost_after = rule.lost_after
        return decision


def timeout_error() -> ApiError:
    """A 504 as kube-apiserver answers it when a request ran past its timeout."""
    return ApiError(504, "the server was unable to return a response in the time allotted, "
                    "but may still be processing the request", reason="Timeout",
                    details={"retryAfterSeconds": 0})


def _error(code: int) -> ApiError:
    if code == 504:
        return timeout_error()
    if code == 429:
        return too_many_requests(1)
    if code == 503:
        return unavailable()
    return internal("injected fault")
