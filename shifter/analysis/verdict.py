"""Verdicts: what a check concluded, why, and the values it concluded it from."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """The outcome of one check (or of all checks at one tick)."""

    # Healthy with enough evidence: enough requests and within every limit.
    PASS = "pass"
    # The new colour breaks a limit with statistical confidence (or, for a threshold check,
    # is over it): revert now.
    FAIL = "fail"
    # Cannot tell yet: no data, too few requests, a breach not yet significant, a shared
    # breach the live colour shows too, an ambiguous result. Never promotes.
    INCONCLUSIVE = "inconclusive"

    @property
    def is_pass(self) -> bool:
        """True for ``PASS``."""
        return self is Verdict.PASS

    @property
    def is_fail(self) -> bool:
        """True for ``FAIL``."""
        return self is Verdict.FAIL

    @property
    def is_inconclusive(self) -> bool:
        """True for ``INCONCLUSIVE``."""
        return self is Verdict.INCONCLUSIVE


class Cause(StrEnum):
    """Why a check concluded what it did: machine-readable, rendered into the reason."""

    WITHIN_LIMITS = "within_limits"  # pass: enough requests, upper bound within the limit
    BREACH = "breach"  # fail: the absolute limit is broken with confidence
    RELATIVE_BREACH = "relative_breach"  # fail: worse than the live colour + the allowance
    SHARED = "shared"  # the new colour breaches, but the live colour's own test does too
    TOO_FEW_REQUESTS = "too_few_requests"  # fewer than min_requests on the new colour
    WINDOW_TOO_SHORT = "window_too_short"  # a {window} query over less than 2 s
    NOT_SIGNIFICANT_YET = "not_significant_yet"  # neither a pass nor a fail can be shown yet
    NO_DATA = "no_data"  # the query returned nothing (or NaN) for the new colour
    AMBIGUOUS = "ambiguous"  # more than one series for a colour
    PROMETHEUS_ERROR = "prometheus_error"  # Prometheus refused or failed the query
    PROMETHEUS_UNAVAILABLE = "prometheus_unavailable"  # Prometheus did not answer


Value = float | int | None


def clean(values: Mapping[str, float | int | None]) -> dict[str, Value]:
    """JSON-safe copy: NaN and infinities become ``None``."""
    out: dict[str, Value] = {}
    for key, v in values.items():
        out[key] = None if isinstance(v, float) and not math.isfinite(v) else v
    return out


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict with a one-line reason, the rendered query and its values."""

    check: str
    verdict: Verdict
    reason: str
    query: str = ""
    values: dict[str, Value] = field(default_factory=dict)
    cause: Cause = Cause.NOT_SIGNIFICANT_YET

    def to_dict(self) -> dict[str, object]:
        """JSON-serializable form for events and the Lease history."""
        return {
            "check": self.check,
            "verdict": self.verdict.value,
            "cause": self.cause.value,
            "reason": self.reason,
            "query": self.query,
            "values": clean(self.values),
        }


def combine(results: Iterable[CheckResult]) -> Verdict:
    """Any ``FAIL`` fails; all ``PASS`` passes; otherwise (or with no results) inconclusive."""
    verdicts = [r.verdict for r in results]
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if verdicts and all(v is Verdict.PASS for v in verdicts):
        return Verdict.PASS
    return Verdict.INCONCLUSIVE
