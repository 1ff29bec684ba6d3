"""'Cannot measure' as its own outcome: a Prometheus outage longer than
analysis.max_unavailable reverts and ends failed (exit 5); shorter ones are ridden out."""

from __future__ import annotations

from shifter.analysis.outage import Outage
from shifter.analysis.outcome import tick_cause, unmeasured_reason
from shifter.analysis.verdict import Cause, CheckResult, Verdict
from shifter.errors import PrometheusUnavailable
from shifter.state import Phase
from tests.unit.test_engine import engine


def test_outage_tracker_gives_up_only_after_max_unavailable() -> None:
    o = Outage(60.0)
    assert o.observe(0.0, "refused", wall=1764597600.0) is None
    assert o.observe(60.0, "refused") is None  # exactly the limit: still ridden out
    reason = o.observe(61.0, "timed out")
    assert reason == ("Prometheus unavailable since 2025-12-01T14:00:00Z (61s > "
                      "analysis.max_unavailable 60s): timed out")
    assert o.observe(62.0, None) is None and o.since is None  # measured again: reset
    assert o.observe(100.0, "x") is None  # a new outage starts counting afresh


def test_a_refused_query_is_unmeasured_and_causes_are_ranked() -> None:
    ok = CheckResult("a", Verdict.PASS, "fine", cause=Cause.WITHIN_LIMITS)
    bad = CheckResult("b", Verdict.INCONCLUSIVE, "Prometheus refused the query: 422",
                      cause=Cause.PROMETHEUS_ERROR)
    assert unmeasured_reason([ok]) is None
    assert unmeasured_reason([ok, bad]) == "b: Prometheus refused the query: 422"
    assert tick_cause([ok, bad], Verdict.INCONCLUSIVE) == "prometheus_error"
    assert tick_cause([], Verdict.INCONCLUSIVE) == "prometheus_unavailable"


def _down(after: float, until: float = 1e9):  # type: ignore[no-untyped-def]
    """Verdicts that raise PrometheusUnavailable for windows in [after, until)."""
    def verdicts(weight: int, window: float) -> Verdict:
        if weight == 10 and after <= window < until:
            raise PrometheusUnavailable("Prometheus at http://prom did not answer: Timeout")
        return Verdict.INCONCLUSIVE if weight == 10 and window < until else Verdict.PASS
    return verdicts


def test_an_outage_longer_than_max_unavailable_reverts_and_exits_5() -> None:
    eng, router, analyzer, events, clock = engine(_down(2.0), bake=5.0, deadline=400.0)
    analyzer.outage = Outage(30.0)
    outcome = eng.run()
    assert outcome.phase is Phase.FAILED and outcome.exit_code == 5
    assert router.calls[-1] == ("revert", 0) and router.weight == 0
    assert outcome.reason.startswith("Prometheus unavailable since ")
    assert "> analysis.max_unavailable 30s" in outcome.reason
    assert eng.record().cause == "prometheus_unavailable"


def test_a_shorter_outage_is_reported_and_ridden_out() -> None:
    eng, router, analyzer, events, clock = engine(_down(2.0, 20.0), bake=5.0, deadline=400.0)
    analyzer.outage = Outage(30.0)
    outcome = eng.run()
    assert outcome.phase is Phase.PROMOTED and outcome.exit_code == 0
    causes = [f.get("cause") for e, f in events.events if e == "verdict"]
    assert "prometheus_unavailable" in causes and causes[-1] != "prometheus_unavailable"
