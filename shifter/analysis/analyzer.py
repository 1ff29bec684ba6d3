"""The analyzer: render each check, run one query per check, decide new colour vs live.

The only I/O is ``source.query`` (a :class:`~shifter.analysis.prometheus.QuerySource`);
reading the result and deciding are pure (:mod:`.decide`, :mod:`.latency`).
``PrometheusUnavailable`` propagates to the caller (which retries or gives up); a query
Prometheus refuses is ``INCONCLUSIVE`` during a rollout and ``InvalidInput`` in preflight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

from shifter.errors import InvalidInput, PrometheusUnavailable
from shifter.plan import Forecast, Plan, raise_if_unmeetable, timeline, timeline_lines

from . import decide
from .checks import CheckKind, CheckSpec, RenderContext
from .evidence import Ambiguous, Evidence, Series, dump, load_into, read
from .latency import latency
from .outage import Outage
from .prometheus import QueryError, QuerySource, Sample
from .render import placeholders, render
from .scrape import Scrape, measure, tick_shift, warning
from .verdict import Cause, CheckResult, Value, Verdict

ABS_SHARE = 0.75  # the absolute test's share when the relative one only tells "shared"
MIN_WINDOW = 2.0  # seconds: a {window} shorter than this holds at most one scrape
PREFLIGHT_WINDOW = 60.0


class Analyzer:
    """Evaluates a rollout's checks for the new colour against the live one.

    ``alpha`` on the checks is the false-revert budget of the whole rollout; it is split
    only among the count checks (error rate, latency) and, within a check with a relative
    limit, between its absolute and relative tests (:meth:`alphas`). It is not split over looks:
    the tests are anytime-valid (:mod:`.sequential`).
    """

    def __init__(
        self, source: QuerySource, checks: Sequence[CheckSpec], ctx: RenderContext, *,
        pass_tolerance: float = 1.5, max_unavailable: float = 60.0,
        baseline_window: float = PREFLIGHT_WINDOW, steps: int = 1,
        clock: Callable[[], float] = time.time, plan: Plan | None = None,
        strict: bool = False,
    ) -> None:
        self.source = source
        self.checks = list(checks)
        self.ctx = ctx
        self.pass_tolerance = pass_tolerance
        self.baseline_window = baseline_window
        self.steps = steps
        self.clock = clock
        self.plan = plan
        self.strict = strict  # an unmeetable step deadline is an error (``--strict``)
        self.scrape: Scrape | None = None  # measured at pre-flight
        self.promote = False  # the current step promotes (100%): set by new_step(weight)
        self.outage = Outage(max_unavailable)
        self.evidence: dict[str, Evidence] = {c.name: Evidence() for c in self.checks}
        counted = [c for c in self.checks if c.kind is not CheckKind.THRESHOLD]
        self.alpha_check = {c.name: c.alpha / max(1, len(counted)) for c in self.checks}
        for check in self.checks:  # unknown placeholders fail now, not at the first tick
            self.render(check, PREFLIGHT_WINDOW, start=0.0)

    def alphas(self, check: CheckSpec) -> tuple[float, float]:
        """``(absolute, relative)`` significance of ``check``'s two tests: half each, or
        three quarters to the absolute test when the relative limit cannot bind below the
        absolute one (an error-rate allowance of at least the limit, as the defaults' 1
        point over a 1% limit: the relative test then only tells whether a breach is
        shared, and the absolute one decides every other revert)."""
        a = self.alpha_check[check.name]
        allowance = check.max_over_baseline
        if allowance is None:
            return a, a
        if check.kind is CheckKind.ERROR_RATE and allowance >= check.max:
            return a * ABS_SHARE, a * (1 - ABS_SHARE)
        return a / 2, a / 2

    def render(self, check: CheckSpec, window_seconds: float, *, start: float) -> str:
        """The PromQL ``check`` runs for a window of ``window_seconds`` from unix ``start``."""
        return render(check.query, self.ctx, window_seconds, check=check.name,
                      defaults=dict(check.defaults), start=start)

    def new_step(self, weight: int | None = None) -> None:
        """The weight moved (to ``weight`` percent): carry each check's evidence into the
        next step; at 100% the stricter promotion rule applies (:mod:`.rates`)."""
        if weight is not None:
            self.promote = weight >= 100
        for e in self.evidence.values():
            e.fold()

    def start_watch(self) -> None:
        """The promotion is written: a fresh test of the now-live colour from here on,
        against the absolute limits and the baseline recorded before the rollout. The
        evidence of the steps is dropped so that a breach after the promotion is not
        diluted by minutes of healthy traffic before it (the watch is a second test with
        the same alpha)."""
        self.promote = True
        self.evidence = {name: Evidence(baseline=e.baseline)
                         for name, e in self.evidence.items()}

    def evaluate(self, window_seconds: float, *, at: float | None = None) -> list[CheckResult]:
        """One result per check over the last ``window_seconds`` (up to unix time ``at``,
        default now). ``PrometheusUnavailable`` propagates."""
        at = self.clock() if at is None else at
        return [self.evaluate_check(c, window_seconds, at=at) for c in self.checks]

    def evaluate_check(self, check: CheckSpec, window_seconds: float, *, at: float
                       ) -> CheckResult:
        """Query and judge one check (``PrometheusUnavailable`` propagates)."""
        if window_seconds < MIN_WINDOW and "window" in placeholders(check.query):
            return CheckResult(check.name, Verdict.INCONCLUSIVE,
                               f"window too short ({window_seconds:.1f}s) for increase()",
                               cause=Cause.WINDOW_TOO_SHORT)
        promql = self.render(check, window_seconds, start=at - window_seconds)
        try:
            samples = self.source.query(promql, at=at)
        except QueryError as exc:
            return CheckResult(
                check.name, Verdict.INCONCLUSIVE, f"Prometheus refused the query: {exc.detail}",
                promql, cause=Cause.PROMETHEUS_ERROR,
            )
        return self.judge(check, promql, samples, self.evidence[check.name])

    def judge(self, check: CheckSpec, promql: str, samples: Sequence[Sample],
              evidence: Evidence | None = None) -> CheckResult:
        """Decide ``check`` from its query result; record this step's counts in
        ``evidence`` (pure otherwise)."""
        ev = evidence if evidence is not None else Evidence()
        new, live = self.ctx.new_service, self.ctx.live_service
        try:
            s = read(check.kind, samples, {new, live}, check.scale)
        except Ambiguous as exc:
            return CheckResult(check.name, Verdict.INCONCLUSIVE, f"ambiguous result: {exc}",
                               promql, cause=Cause.AMBIGUOUS)
        names = {"new_name": new, "base_name": live}
        a_abs, a_rel = self.alphas(check)
        common = {"max_over_baseline": check.max_over_baseline,
                  "min_requests": check.min_requests, "alpha": a_abs, "alpha_relative": a_rel,
                  "prior": tuple(ev.prior), "live_prior": tuple(ev.live_prior),
                  "pass_tolerance": self.pass_tolerance, "promote": self.promote}
        if check.kind is CheckKind.ERROR_RATE:
            bl = _pair(ev.baseline.counts.get(live)) if ev.baseline else None
            base_seg = (decide.count(bl[0]) or 0, decide.count(bl[1]) or 0) if bl else None
            d = decide.error_rate(
                _pair(s.counts.get(new)), _pair(s.counts.get(live)), max_rate=check.max,
                baseline=base_seg, **common, **names,  # type: ignore[arg-type]
            )
            _remember(ev, d.values, "requests", "errors", "live_requests", "live_errors")
        elif check.kind is CheckKind.LATENCY:
            d = latency(
                s.buckets.get(new), s.buckets.get(live), limit=check.max,
                quantile=check.quantile, prior_pass=tuple(ev.prior_pass),
                prior_buckets=tuple(ev.prior_buckets),
                live_prior_buckets=tuple(ev.live_prior_buckets),
                baseline=ev.baseline.buckets.get(live) if ev.baseline else None,
                **common, **names,  # type: ignore[arg-type]
            )
            _remember(ev, d.values, "requests", "slow_requests", "live_requests", "live_slow")
            rn, rk = d.values.get("requests"), d.values.get("pass_slow")
            if isinstance(rn, int) and isinstance(rk, int):
                ev.last_pass = (rn, rk)
            ev.last_buckets = s.buckets.get(new) or ev.last_buckets
            ev.live_last_buckets = s.buckets.get(live) or ev.live_last_buckets
        else:
            d = decide.threshold(
                s.values.get(new), s.values.get(live), limit=check.max,
                max_over_baseline=check.max_over_baseline, what=check.name, **names,
            )
        reason = f"{d.reason} [{check.note}]" if check.note else d.reason
        return CheckResult(check.name, d.verdict, reason, promql, d.values, d.cause)

    def preflight(
        self, window_seconds: float | None = None, *, at: float | None = None
    ) -> list[CheckResult]:
        """Every query parses and returns data for the live colour, else ``InvalidInput``.

        Records each check's live-colour counts over the window (``baseline_window``,
        before any weight moves) as the baseline of the steps where the live colour has
        too little traffic. Returns each check's result over that window (for display).
        """
        window = self.baseline_window if window_seconds is None else window_seconds
        at = self.clock() if at is None else at
        results = []
        live = self.ctx.live_service
        for check in self.checks:
            promql = self.render(check, window, start=at - window)
            try:
                samples = self.source.query(promql, at=at)
            except QueryError as exc:
                raise InvalidInput(
                    f"analysis.checks[{check.name}]: Prometheus rejected the query: "
                    f"{exc.detail}: {promql}"
                ) from exc
            try:
                s = read(check.kind, samples, {live}, check.scale)
            except Ambiguous as exc:
                raise InvalidInput(
                    f"analysis.checks[{check.name}]: ambiguous result: {exc}: {promql}"
                ) from None
            if not _has_data(check.kind, s, live):
                raise InvalidInput(
                    f"analysis.checks[{check.name}]: the query returns no data for the live "
                    f"colour {live}: {promql}"
                )
            self.evidence[check.name].baseline = s
            results.append(self.judge(check, promql, samples))
        self.scrape = self._measure_scrape(at)
        if self.strict and self.plan is not None:
            first, forecasts = self.forecasts(self.plan)
            if first is not None:
                raise_if_unmeetable(forecasts, self.live_rps() or 0.0,
                                    min_requests=first.min_requests)
        return results

    def _measure_scrape(self, at: float) -> Scrape | None:
        """How the first count check's series are scraped (None if unknown)."""
        counted = sorted(self.checks, key=lambda c: c.kind is CheckKind.THRESHOLD)
        for check in counted[:1]:
            promql = self.render(check, self.baseline_window, start=at - self.baseline_window)
            try:
                return measure(self.source, promql, at=at, prefer=self.ctx.new_service)
            except (QueryError, PrometheusUnavailable):
                return None
        return None

    def tick_shift(self, due: float, interval: float) -> float:
        """Seconds to move a tick due at unix time ``due`` so it comes just after a scrape
        of the new colour's series (0 when the scrape is unknown; :func:`.scrape.tick_shift`)."""
        if self.scrape is None:
            return 0.0
        return tick_shift(due, interval=interval, scrape=self.scrape)

    def live_rps(self) -> float | None:
        """The live colour's request rate over the baseline window (after ``preflight``)."""
        for c in self.checks:
            b = self.evidence[c.name].baseline
            if c.kind is CheckKind.ERROR_RATE and b is not None:
                total = b.counts.get(self.ctx.live_service, {}).get("total")
                if total is not None and math.isfinite(total):
                    return total / self.baseline_window
        return None

    def timeline(self, plan: Plan) -> list[str]:
        """The traffic-aware plan (:func:`shifter.plan.timeline`) as lines, from the first
        error-rate check; empty before ``preflight`` or without one."""
        check, forecasts = self.forecasts(plan)
        lines = timeline_lines(forecasts, self.live_rps() or 0.0) if check else []
        if self.scrape is not None:
            w = warning(plan.interval, self.scrape.interval, self.scrape.selector)
            lines += [w] if w else []
        return lines

    def forecasts(self, plan: Plan) -> tuple[CheckSpec | None, list[Forecast]]:
        """The first error-rate check and its per-step forecasts at the live colour's
        measured rate; ``(None, [])`` before ``preflight`` or without one."""
        rps = self.live_rps()
        check = next((c for c in self.checks if c.kind is CheckKind.ERROR_RATE), None)
        if rps is None or check is None:
            return None, []
        a_abs, _ = self.alphas(check)
        return check, timeline(plan, rps, min_requests=check.min_requests, limit=check.max,
                               alpha=a_abs, pass_tolerance=self.pass_tolerance)

    def state(self) -> dict[str, object]:
        """The carried evidence, JSON-safe, for the Lease record (see :meth:`restore`)."""
        return dump(self.evidence, self.ctx.live_service)

    def restore(self, recorded: object) -> None:
        """A resumed run carries the evidence of the run it resumes: the bound then holds
        over both runs together; and the baseline recorded before the rollout, which a
        resumed watch after the promotion judges against (the old colour has no traffic
        by then). Unknown or malformed entries are ignored."""
        load_into(self.evidence, recorded)


def _remember(ev: Evidence, values: Mapping[str, Value], n: str, k: str, ln: str, lk: str
              ) -> None:
    rn, rk = values.get(n), values.get(k)
    if isinstance(rn, int) and isinstance(rk, int):
        ev.last = (rn, rk)
    ln_, lk_ = values.get(ln), values.get(lk)
    if isinstance(ln_, int) and isinstance(lk_, int):
        ev.live_last = (ln_, lk_)


def _pair(counts: dict[str, float] | None) -> tuple[float | None, float | None] | None:
    if counts is None:
        return None
    return counts.get("total"), counts.get("errors")


def _has_data(kind: CheckKind, s: Series, service: str) -> bool:
    if kind is CheckKind.ERROR_RATE:
        total = s.counts.get(service, {}).get("total")
        return total is not None and math.isfinite(total)
    if kind is CheckKind.LATENCY:
        return any(math.isinf(b) for b, _ in s.buckets.get(service, []))
    value = s.values.get(service)
    return value is not None and math.isfinite(value)
