"""SLO checks as plain data: what to query, how to judge it, and what to render it with.

Nothing here does I/O. A :class:`CheckSpec` is built from a preset or the user's config;
a :class:`RenderContext` names the release's objects so a check's PromQL template can be
rendered (see :mod:`shifter.analysis.render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class CheckKind(StrEnum):
    """How a check's query result is read and judged."""

    # One query returns per service two series, kind="total" and kind="errors" (counts over
    # the window); judged on counts with exact tests.
    ERROR_RATE = "error_rate"
    # One query returns per (service, le) cumulative histogram bucket counts over the window;
    # judged on the number of requests slower than the limit.
    LATENCY = "latency"
    # One query returns one value per service; compared with ``max`` (no significance test).
    THRESHOLD = "threshold"


@dataclass(frozen=True)
class CheckSpec:
    """One SLO check: a PromQL template and the limits it is judged against.

    ``max``: the absolute limit: an error ratio (``0.01``), latency in seconds (``0.5``) or
    the threshold. ``max_over_baseline``: the limit relative to the live colour: error rate:
    allowed increase in ratio points (``0.01`` = +1 point); latency and threshold: allowed
    ratio (``1.5`` = 50% slower). ``note`` says what a person should know about the check
    (e.g. that a threshold is a mean); ``defaults`` are (placeholder, template) pairs used
    when ``RenderContext.extra`` does not give that placeholder. ``scale`` converts the
    histogram's ``le`` bounds to seconds (``0.001`` for millisecond histograms). Below
    ``min_requests`` new-colour requests a check never passes; ``alpha`` is the
    significance level of the one-sided tests.
    """

    name: str
    kind: CheckKind
    query: str
    max: float
    max_over_baseline: float | None = None
    quantile: float = 0.99
    min_requests: int = 50
    alpha: float = 0.01
    scale: float = 1.0
    note: str = ""
    defaults: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RenderContext:
    """The names a check's placeholders render to, for one release at one moment.

    ``live_service`` is the baseline colour's Service, ``new_service`` the colour being
    shifted to. ``extra`` adds placeholders of its own (``{name}`` for each key), e.g. the
    Envoy preset's ``live_backend_index``.
    """

    namespace: str
    release: str
    live_service: str
    new_service: str
    ingress: str = ""
    route: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
