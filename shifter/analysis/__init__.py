"""SLO analysis: PromQL checks rendered per release, judged on counts, new colour vs live.

    checks.py     CheckSpec, CheckKind, RenderContext (plain data)
    render.py     placeholder substitution
    presets.py    app, envoy, haproxy, istio, nginx; build_checks
    stats.py      binomial / Fisher exact tests, histogram_quantile
    decide.py     error-rate and threshold decisions (pure)
    latency.py    latency decision on bucket counts (pure)
    verdict.py    Verdict, CheckResult, combine
    prometheus.py PrometheusSource (the only I/O), QueryError
    analyzer.py   Analyzer: one query per check per tick, preflight

See docs/analysis.md.
"""

from __future__ import annotations

from .analyzer import Analyzer
from .checks import CheckKind, CheckSpec, RenderContext
from .presets import PRESETS, Preset, build_checks
from .prometheus import PrometheusSource, QueryError, QuerySource, Sample
from .verdict import CheckResult, Verdict, combine

__all__ = [
    "PRESETS",
    "Analyzer",
    "CheckKind",
    "CheckResult",
    "CheckSpec",
    "Preset",
    "PrometheusSource",
    "QueryError",
    "QuerySource",
    "RenderContext",
    "Sample",
    "Verdict",
    "build_checks",
    "combine",
]
