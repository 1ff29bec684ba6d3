"""One tick's outcome from its check results: the cause to record, and whether it was
measured at all (see :mod:`.outage`). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from .verdict import Cause, CheckResult, Verdict

# When checks disagree, the cause reported for the tick: the first one present.
_ORDER = (Cause.BREACH, Cause.RELATIVE_BREACH, Cause.PROMETHEUS_ERROR, Cause.SHARED,
          Cause.AMBIGUOUS, Cause.NO_DATA, Cause.WINDOW_TOO_SHORT, Cause.TOO_FEW_REQUESTS,
          Cause.NOT_SIGNIFICANT_YET, Cause.WITHIN_LIMITS)


def unmeasured_reason(results: Sequence[CheckResult]) -> str | None:
    """Why the tick could not be measured (a query Prometheus refused or failed), or None."""
    bad = [r for r in results if r.cause is Cause.PROMETHEUS_ERROR]
    return "; ".join(f"{r.check}: {r.reason}" for r in bad) if bad else None


def tick_cause(results: Sequence[CheckResult], verdict: Verdict) -> str:
    """The machine-readable cause of a tick's combined verdict."""
    if not results:
        return Cause.PROMETHEUS_UNAVAILABLE.value
    relevant = [r.cause for r in results if r.verdict is verdict] or [r.cause for r in results]
    for cause in _ORDER:
        if cause in relevant:
            return cause.value
    return relevant[0].value
