"""The analyzer: render each check, run one query per check, decide new colour vs live.

The only I/O is ``source.query`` (a :class:`~shifter.analysis.prometheus.QuerySource`);
reading the result and deciding are pure (:mod:`.decide`, :mod:`.latency`).
``PrometheusUnavailable`` propagates to the caller (which retries or gives up); a query
Prometheus refuses is ``INCONCLUSIVE`` during a rollout and ``InvalidInput`` in preflight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shifter.errors import InvalidInput

from . import decide
from .checks import CheckKind, CheckSpec, RenderContext
from .latency import latency
from .prometheus import QueryError, QuerySource, Sample
from .render import render
from .verdict import CheckResult, Verdict

MIN_WINDOW = 2.0  # seconds: shorter windows hold at most one scrape, so no increase()
PREFLIGHT_WINDOW = 60.0


class Ambiguous(Exception):
    """The result has more than one series for a colour (internal to this module)."""


@dataclass(frozen=True)
class Series:
    """One check's result read per colour: the value shapes the decisions take."""

    counts: dict[str, dict[str, float]]  # service -> kind (total/errors) -> value
    buckets: dict[str, list[tuple[float, float]]]  # service -> (bound seconds, count)
    values: dict[str, float]  # service -> value


def read(kind: CheckKind, samples: Sequence[Sample], services: set[str], scale: float) -> Series:
    """Group ``samples`` by colour for ``kind``; raise ``Ambiguous`` on duplicate series."""
    counts: dict[str, dict[str, float]] = {}
    buckets: dict[str, dict[float, float]] = {}
    values: dict[str, float] = {}
    for labels, value in samples:
        svc = labels.get("service")
        if svc not in services:
            continue
        if kind is CheckKind.ERROR_RATE:
            k = labels.get("kind", "")
            if k not in ("total", "errors"):
                raise Ambiguous(f'a series for {svc} without kind="total" or kind="errors"')
            if k in counts.setdefault(svc, {}):
                raise Ambiguous(f"two {k} series for {svc}: aggregate by (service)")
            counts[svc][k] = value
        elif kind is CheckKind.LATENCY:
            try:
                bound = float(labels.get("le", "nan")) * scale
            except ValueError:
                bound = math.nan
            if math.isnan(bound):
                raise Ambiguous(f"a series for {svc} without a numeric le label")
            if bound in buckets.setdefault(svc, {}):
                raise Ambiguous(f"two le={labels['le']} series for {svc}: by (service, le)")
            buckets[svc][bound] = value
        else:
            if svc in values:
                raise Ambiguous(f"two series for {svc}: aggregate by (service)")
            values[svc] = value
    return Series(counts, {s: sorted(b.items()) for s, b in buckets.items()}, values)


class Analyzer:
    """Evaluates a rollout's checks for the new colour against the live one."""

    def __init__(
        self, source: QuerySource, checks: Sequence[CheckSpec], ctx: RenderContext
    ) -> None:
        self.source = source
        self.checks = list(checks)
        self.ctx = ctx
        for check in self.checks:  # unknown placeholders fail now, not at the first tick
            self.render(check, PREFLIGHT_WINDOW)

    def render(self, check: CheckSpec, window_seconds: float) -> str:
        """The PromQL ``check`` runs for a window of ``window_seconds``."""
        return render(
            check.query, self.ctx, window_seconds, check=check.name, defaults=dict(check.defaults)
        )

    def evaluate(self, window_seconds: float, *, at: float | None = None) -> list[CheckResult]:
        """One result per check over the last ``window_seconds`` (or up to unix time ``at``)."""
        if window_seconds < MIN_WINDOW:
            why = f"window too short ({window_seconds:.1f}s)"
            return [CheckResult(c.name, Verdict.INCONCLUSIVE, why) for c in self.checks]
        return [self.evaluate_check(c, window_seconds, at=at) for c in self.checks]

    def evaluate_check(
        self, check: CheckSpec, window_seconds: float, *, at: float | None = None
    ) -> CheckResult:
        """Query and judge one check (``PrometheusUnavailable`` propagates)."""
        promql = self.render(check, window_seconds)
        try:
            samples = self.source.query(promql, at=at)
        except QueryError as exc:
            return CheckResult(
                check.name, Verdict.INCONCLUSIVE, f"Prometheus refused the query: {exc.detail}",
                promql,
            )
        return self.judge(check, promql, samples)

    def judge(self, check: CheckSpec, promql: str, samples: Sequence[Sample]) -> CheckResult:
        """Decide ``check`` from its query result (pure)."""
        new, live = self.ctx.new_service, self.ctx.live_service
        try:
            s = read(check.kind, samples, {new, live}, check.scale)
        except Ambiguous as exc:
            return CheckResult(check.name, Verdict.INCONCLUSIVE, f"ambiguous result: {exc}", promql)
        names = {"new_name": new, "base_name": live}
        if check.kind is CheckKind.ERROR_RATE:
            d = decide.error_rate(
                _pair(s.counts.get(new)), _pair(s.counts.get(live)), max_rate=check.max,
                max_over_baseline=check.max_over_baseline, min_requests=check.min_requests,
                alpha=check.alpha, **names,
            )
        elif check.kind is CheckKind.LATENCY:
            d = latency(
                s.buckets.get(new), s.buckets.get(live), limit=check.max,
                quantile=check.quantile, max_over_baseline=check.max_over_baseline,
                min_requests=check.min_requests, alpha=check.alpha, **names,
            )
        else:
            d = decide.threshold(
                s.values.get(new), s.values.get(live), limit=check.max,
                max_over_baseline=check.max_over_baseline, what=check.name, **names,
            )
        reason = f"{d.reason} [{check.note}]" if check.note else d.reason
        return CheckResult(check.name, d.verdict, reason, promql, d.values)

    def preflight(
        self, window_seconds: float = PREFLIGHT_WINDOW, *, at: float | None = None
    ) -> list[CheckResult]:
        """Every query parses and returns data for the live colour, else ``InvalidInput``.

        Returns each check's result over that window (for display only).
        """
        results = []
        live = self.ctx.live_service
        for check in self.checks:
            promql = self.render(check, window_seconds)
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
            results.append(self.judge(check, promql, samples))
        return results


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
