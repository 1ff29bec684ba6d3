"""The scrape interval of the series a check queries, measured at pre-flight.

A tick shorter than the scrape interval sees no new samples: the tests stay valid but
learn nothing. Two instant queries give it exactly: ``timestamp(selector)`` now (each
series' last sample), then the same at just before the earliest of those (each series'
previous sample); the interval is the median difference. ``selector`` is the first plain
series selector (``metric{...}``) in the rendered query. Pure except ``source.query``.
"""

from __future__ import annotations

import re
import statistics

from .prometheus import QuerySource

_SELECTOR = re.compile(r"(?<![\w:\"])([A-Za-z_:][\w:]*)\{([^{}]*)\}")
_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def selector(promql: str) -> str | None:
    """The first ``metric{matchers}`` selector of ``promql``, or None."""
    for m in _SELECTOR.finditer(promql):
        if m.group(1) not in _WORDS:
            return m.group(0)
    return None


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def scrape_interval(source: QuerySource, promql: str, *, at: float) -> float | None:
    """Seconds between the last two samples of the series ``promql`` reads (median over
    series), or None when it cannot be told (no selector, no series, one sample)."""
    sel = selector(promql)
    if sel is None:
        return None
    last = {_key(lab): v for lab, v in source.query(f"timestamp({sel})", at=at)}
    if not last:
        return None
    before = min(last.values()) - 0.001
    prev = {_key(lab): v for lab, v in source.query(f"timestamp({sel})", at=before)}
    gaps = [last[k] - prev[k] for k in last if k in prev and last[k] > prev[k]]
    return statistics.median(gaps) if gaps else None


def warning(interval: float, scrape: float | None, what: str) -> str | None:
    """A timeline line when ``interval`` is shorter than the measured scrape interval."""
    if scrape is None or interval >= scrape * 0.95:
        return None
    return (f"  WARNING: interval {interval:g}s is shorter than the scrape interval of "
            f"{what} ({scrape:.3g}s): ticks in between see no new data")
