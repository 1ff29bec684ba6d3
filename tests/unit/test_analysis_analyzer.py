"""The analyzer over a fake query source: one query per check, colours, errors, preflight."""

from __future__ import annotations

import math

import pytest

from shifter.analysis import Analyzer, CheckKind, CheckSpec, RenderContext, Verdict
from shifter.analysis.presets import build_checks
from shifter.analysis.prometheus import QueryError, Sample
from shifter.analysis.verdict import Cause
from shifter.errors import InvalidInput, PrometheusUnavailable

CTX = RenderContext("shop-ns", "shop", "shop-blue", "shop-green", "shop", "shop")


class FakeSource:
    """Answers each query with the canned samples of the first key found in it."""

    def __init__(self, answers: dict[str, list[Sample] | Exception]) -> None:
        self.answers = answers
        self.queries: list[tuple[str, float | None]] = []

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        self.queries.append((promql, at))
        for key, answer in self.answers.items():
            if key in promql:
                if isinstance(answer, Exception):
                    raise answer
                return answer
        return []


def counts(svc: str, total: float, errors: float) -> list[Sample]:
    return [
        ({"service": svc, "kind": "total"}, total),
        ({"service": svc, "kind": "errors"}, errors),
    ]


def buckets(svc: str, per: dict[str, float]) -> list[Sample]:
    return [({"service": svc, "le": le}, v) for le, v in per.items()]


def checks(**kw: float | None) -> list[CheckSpec]:
    return build_checks(preset="app", max_error_rate=0.01, max_latency=kw.get("lat", 0.5))


def test_one_query_per_check_covering_both_colours() -> None:
    src = FakeSource(
        {
            "http_requests_total": counts("shop-blue", 500, 0) + counts("shop-green", 300, 0),
            "bucket": buckets("shop-blue", {"0.1": 500, "+Inf": 500})
            + buckets("shop-green", {"0.1": 300, "+Inf": 300}),
        }
    )
    results = Analyzer(src, checks(), CTX).evaluate(30.0, at=1000.0)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.PASS]
    assert len(src.queries) == 2
    for q, at in src.queries:
        assert 'service=~"shop-blue|shop-green"' in q and "@ 970.000" in q and at == 1000.0
    assert results[0].query == src.queries[0][0]
    assert results[0].values["requests"] == 300 and results[0].values["baseline_requests"] == 500


def test_new_colour_breach_fails_and_other_services_are_ignored() -> None:
    src = FakeSource(
        {
            "http_requests_total": counts("shop-blue", 500, 0)
            + counts("shop-green", 25, 5)
            + counts("other", 1, 1)
        }
    )
    r = Analyzer(src, checks(lat=None), CTX).evaluate(10.0)[0]
    assert r.verdict is Verdict.FAIL and "(5/25 errors)" in r.reason


def test_window_too_short_only_for_increase_templates() -> None:
    custom = CheckSpec(name="c", kind=CheckKind.THRESHOLD, max=1.0,
                       query='sum by (service) (increase(x{service=~"{services}"}[{window}]))')
    src = FakeSource({})
    results = Analyzer(src, [*checks(), custom], CTX).evaluate(1.5, at=1000.0)
    assert [r.cause for r in results] == [Cause.NO_DATA, Cause.NO_DATA,
                                          Cause.WINDOW_TOO_SHORT]
    assert "window too short" in results[2].reason and len(src.queries) == 2


def test_empty_and_nan_results_are_inconclusive() -> None:
    src = FakeSource(
        {"http_requests_total": counts("shop-green", math.nan, math.nan), "bucket": []}
    )
    results = Analyzer(src, checks(), CTX).evaluate(30.0)
    assert [r.verdict for r in results] == [Verdict.INCONCLUSIVE, Verdict.INCONCLUSIVE]


def test_ambiguous_results_are_inconclusive() -> None:
    dup = counts("shop-green", 100, 0) + counts("shop-green", 100, 50)
    src = FakeSource(
        {
            "http_requests_total": dup,
            "bucket": buckets("shop-green", {"+Inf": 1}) + buckets("shop-green", {"+Inf": 2}),
        }
    )
    results = Analyzer(src, checks(), CTX).evaluate(30.0)
    assert all(r.verdict is Verdict.INCONCLUSIVE for r in results)
    assert all(r.reason.startswith("ambiguous result") for r in results)
    nokind = FakeSource({"http_requests_total": [({"service": "shop-green"}, 1.0)]})
    assert "without kind" in Analyzer(nokind, checks(lat=None), CTX).evaluate(30)[0].reason


def test_millisecond_histogram_is_scaled() -> None:
    spec = build_checks(preset="istio", max_error_rate=None, max_latency=0.5)
    src = FakeSource(
        {
            "bucket": buckets("shop-green", {"100": 0, "500": 0, "1000": 100, "+Inf": 100})
            + buckets("shop-blue", {"100": 500, "500": 500, "1000": 500, "+Inf": 500})
        }
    )
    r = Analyzer(src, spec, CTX).evaluate(30.0)[0]
    assert r.verdict is Verdict.FAIL
    assert r.values["slow_bound"] == 0.5 and r.values["quantile"] == pytest.approx(0.995)
    assert r.values["baseline_quantile"] == pytest.approx(0.099)


def test_threshold_check_and_note() -> None:
    spec = build_checks(preset="haproxy", max_error_rate=None, max_latency=0.2)
    src = FakeSource(
        {
            "haproxy_server_response_time_average_seconds": [
                ({"service": "shop-green"}, 0.5),
                ({"service": "shop-blue"}, 0.01),
            ]
        }
    )
    r = Analyzer(src, spec, CTX).evaluate(30.0)[0]
    assert r.verdict is Verdict.FAIL and "MEAN" in r.reason


def test_query_error_is_inconclusive_during_rollout() -> None:
    src = FakeSource({"http_requests_total": QueryError("parse error at char 5")})
    r = Analyzer(src, checks(lat=None), CTX).evaluate(30.0)[0]
    assert r.verdict is Verdict.INCONCLUSIVE and "parse error at char 5" in r.reason


def test_prometheus_unavailable_propagates() -> None:
    src = FakeSource({"http_requests_total": PrometheusUnavailable("down")})
    with pytest.raises(PrometheusUnavailable):
        Analyzer(src, checks(lat=None), CTX).evaluate(30.0)


def test_preflight_rejects_unparsable_query_naming_check() -> None:
    src = FakeSource({"http_requests_total": QueryError("1:5: parse error: unexpected")})
    with pytest.raises(
        InvalidInput,
        match=r"^analysis\.checks\[error-rate\]: Prometheus rejected "
        r"the query: 1:5: parse error: unexpected: label_replace",
    ):
        Analyzer(src, checks(lat=None), CTX).preflight()


def test_preflight_requires_live_colour_data() -> None:
    src = FakeSource({"http_requests_total": counts("shop-green", 10, 0)})
    with pytest.raises(InvalidInput) as e:
        Analyzer(src, checks(lat=None), CTX).preflight()
    assert str(e.value).startswith(
        "analysis.checks[error-rate]: the query returns no data for the live colour shop-blue: "
        "label_replace(sum by (service)"
    )
    assert "@ " in str(e.value)  # counts since the start of the baseline window


def test_preflight_passes_with_live_data_for_each_kind() -> None:
    custom = CheckSpec("queue", CheckKind.THRESHOLD, 'q{service=~"{services}"}', 5.0)
    spec = checks() + [custom]
    src = FakeSource(
        {
            "http_requests_total": counts("shop-blue", 10, 0),
            "bucket": buckets("shop-blue", {"0.1": 3, "+Inf": 3}),
            "q{": [({"service": "shop-blue"}, 1.0)],
        }
    )
    results = Analyzer(src, spec, CTX).preflight()
    checked = [q for q, _ in src.queries if not q.startswith("timestamp(")]
    assert len(results) == 3 and len(checked) == 3


def test_unknown_placeholder_fails_at_construction() -> None:
    bad = CheckSpec("x", CheckKind.THRESHOLD, "q{nope}", 1.0)
    with pytest.raises(InvalidInput, match=r"checks\[x\]: unknown placeholder \{nope\}"):
        Analyzer(FakeSource({}), [bad], CTX)


def test_strict_preflight_rejects_a_deadline_the_measured_traffic_cannot_meet() -> None:
    from shifter.plan import make_plan

    plan = make_plan((10, 50, 100), bake=60, interval=10)
    # 12 requests over the 60 s baseline window: 0.2 rps, 0.02 rps on the new colour at 10%
    src = FakeSource({"http_requests_total": counts("shop-blue", 12, 0)})
    lenient = Analyzer(src, checks(lat=None), CTX, plan=plan)
    lenient.preflight()  # a warning only: the timeline says so
    assert any(line.startswith("  WARNING: step 1") for line in lenient.timeline(plan))
    with pytest.raises(InvalidInput, match=r"^step_deadline: step 1 \(10%\) cannot reach "):
        Analyzer(src, checks(lat=None), CTX, plan=plan, strict=True).preflight()
    busy = FakeSource({"http_requests_total": counts("shop-blue", 3000, 0)})
    Analyzer(busy, checks(lat=None), CTX, plan=plan, strict=True).preflight()


def test_the_100_percent_step_is_the_promotion() -> None:
    a = Analyzer(FakeSource({}), checks(lat=None), CTX, steps=3)
    assert not a.promote
    a.new_step(10)
    assert not a.promote
    a.new_step(100)
    assert a.promote


class ScrapedSource(FakeSource):
    """Counts as FakeSource; ``timestamp(...)`` answers as if scraped every ``every`` s."""

    def __init__(self, every: float, answers: dict[str, list[Sample] | Exception]) -> None:
        super().__init__(answers)
        self.every = every

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        if promql.startswith("timestamp("):
            self.queries.append((promql, at))
            assert at is not None
            last = math.floor(at / self.every) * self.every
            return [({"service": s}, last + 0.1 * i) for i, s in enumerate(("a", "b"))]
        return super().query(promql, at=at)


def test_preflight_measures_the_scrape_interval_and_warns_when_interval_is_shorter() -> None:
    from shifter.plan import make_plan

    src = ScrapedSource(15.0, {"http_requests_total": counts("shop-blue", 3000, 0)})
    a = Analyzer(src, checks(lat=None), CTX)
    a.preflight(at=1000.0)
    assert a.scrape is not None
    sel, seconds = a.scrape.selector, a.scrape.interval
    assert sel.startswith('http_requests_total{namespace="shop-ns", service=~"shop-blue|')
    assert seconds == pytest.approx(15.0)
    fast = a.timeline(make_plan((10, 100), bake=30, interval=5))
    assert fast[-1] == (f"  WARNING: interval 5s is shorter than the scrape interval of "
                        f"{sel} (15s): ticks in between see no new data")
    slow = a.timeline(make_plan((10, 100), bake=60, interval=15))
    assert not any("scrape interval" in line for line in slow)


def test_an_unknown_scrape_interval_warns_nothing() -> None:
    src = FakeSource({"http_requests_total": counts("shop-blue", 3000, 0)})
    a = Analyzer(src, checks(lat=None), CTX)
    a.preflight(at=1000.0)
    assert a.scrape is None


def test_latency_evidence_survives_the_lease_record_round_trip() -> None:
    import json

    src = FakeSource({
        "http_requests_total": counts("shop-blue", 900, 0) + counts("shop-green", 100, 0),
        "bucket": buckets("shop-blue", {"0.1": 900, "0.5": 900, "+Inf": 900})
        + buckets("shop-green", {"0.1": 95, "0.5": 100, "+Inf": 100}),
    })
    a = Analyzer(src, checks(), CTX, steps=3)
    a.new_step(10)
    a.evaluate(30.0, at=1000.0)
    recorded = json.loads(json.dumps(a.state(), allow_nan=False))  # standard JSON
    b = Analyzer(src, checks(), CTX, steps=3)
    b.restore(recorded)
    e = b.evidence["latency-p99"]
    assert e.prior_buckets == [[(0.1, 95.0), (0.5, 100.0), (math.inf, 100.0)]]
    assert e.live_prior_buckets == [[(0.1, 900.0), (0.5, 900.0), (math.inf, 900.0)]]
    assert e.prior_pass == [(100, 0)]  # none slower than the 500 ms pass bound


def test_alpha_is_split_where_each_test_decides() -> None:
    """0.01 over two count checks; the error-rate check's absolute test gets 3/4 when the
    allowance (1 point) cannot bind below the 1% limit, the latency check halves its 0.005;
    without a relative limit the absolute test gets the check's whole share."""
    default = Analyzer(FakeSource({}), build_checks(
        preset="app", max_error_rate=0.01, max_latency=0.5, max_latency_over_baseline=1.5),
        CTX)
    err, lat = default.checks
    assert default.alphas(err) == pytest.approx((0.00375, 0.00125))
    assert default.alphas(lat) == pytest.approx((0.0025, 0.0025))
    tight = Analyzer(FakeSource({}), build_checks(
        preset="app", max_error_rate=0.05, max_error_rate_over_baseline=0.01,
        max_latency=None), CTX)
    assert tight.alphas(tight.checks[0]) == pytest.approx((0.005, 0.005))  # it can bind
    alone = Analyzer(FakeSource({}), build_checks(
        preset="app", max_error_rate=0.01, max_error_rate_over_baseline=None,
        max_latency=None), CTX)
    assert alone.alphas(alone.checks[0]) == pytest.approx((0.01, 0.01))


def test_the_baseline_survives_the_record_round_trip_for_a_resumed_watch() -> None:
    """A watch resumed by the next run judges against the baseline recorded before the
    rollout, not the old colour's traffic now (none, after the promotion)."""
    import json

    before = FakeSource({"http_requests_total": counts("shop-blue", 3000, 3),
                         "bucket": buckets("shop-blue", {"0.1": 3000, "+Inf": 3000})})
    a = Analyzer(before, checks(), CTX)
    a.preflight(at=1000.0)
    recorded = json.loads(json.dumps(a.state(), allow_nan=False))  # standard JSON
    now = FakeSource({"http_requests_total": counts("shop-green", 300, 60)
                      + counts("shop-blue", 0, 0),
                      "bucket": buckets("shop-green", {"0.1": 300, "+Inf": 300})})
    b = Analyzer(now, checks(), CTX)
    b.restore(recorded)
    b.start_watch()
    assert b.evidence["latency-p99"].baseline is not None
    assert b.evidence["latency-p99"].baseline.buckets["shop-blue"][-1] == (math.inf, 3000.0)
    err = b.evaluate(30.0, at=1100.0)[0]
    assert err.verdict is Verdict.FAIL
    assert "shop-blue before the rollout 0.1% (3/3000)" in err.reason
    c = Analyzer(now, checks(), CTX)
    c.restore({"error-rate": {"baseline": {"service": 3, "counts": "x"}}})  # malformed
    assert c.evidence["error-rate"].baseline is None
