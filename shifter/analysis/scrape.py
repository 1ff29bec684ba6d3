"""The scrape interval of the series a check queries, measured at pre-flight.

A tick shorter than the scrape interval sees no new samples: the tests stay valid but
learn nothing. Two instant queries give it exactly: ``timestamp(selector)`` now (each
series' last sample), then the same at just before the earliest of those (each series'
previous sample); the interval is the median difference. ``selector`` is the first plain
series selector (``metric{...}``) in the rendered query. Pure except ``source.query``.

The same two queries give the scrape *phase* of the new colour's series (its last sample
time): :func:`tick_shift` moves a tick to just after a scrape, so it reads a sample at most
a tenth of a scrape interval old instead of up to a whole interval old (half on average).
A tick is only a look: which ticks are taken does not change the tests' guarantees
(:mod:`.sequential`), only how early a breach is seen.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Scrape:
    """How the series a check reads are scraped, measured at pre-flight."""

    selector: str
    interval: float  # seconds between samples (median over series)
    last: float  # unix time of the last sample of the new colour's series (else the latest)


def measure(source: QuerySource, promql: str, *, at: float, prefer: str = "") -> Scrape | None:
    """The scrape of the series ``promql`` reads, or None when it cannot be told (no
    selector, no series, one sample). ``prefer``: a label value (the new colour's Service)
    naming the series whose phase the ticks follow."""
    sel = selector(promql)
    if sel is None:
        return None
    found = source.query(f"timestamp({sel})", at=at)
    last = {_key(lab): v for lab, v in found}
    if not last:
        return None
    before = min(last.values()) - 0.001
    prev = {_key(lab): v for lab, v in source.query(f"timestamp({sel})", at=before)}
    gaps = [last[k] - prev[k] for k in last if k in prev and last[k] > prev[k]]
    if not gaps:
        return None
    mine = [v for lab, v in found if prefer and prefer in lab.values()]
    return Scrape(sel, statistics.median(gaps), max(mine or last.values()))


MARGIN = 0.1  # of a scrape interval: a tick this long after a scrape finds it ingested


def tick_shift(due: float, *, interval: float, scrape: Scrape) -> float:
    """Seconds to add to a tick due at unix time ``due`` so it falls ``MARGIN`` of a scrape
    interval after a scrape of the new colour's series: in ``[-scrape/2, scrape/2)``, and 0
    unless ``interval`` is a whole multiple of the scrape interval (within 5%: only then do
    the following ticks, ``interval`` apart, stay just after a scrape too)."""
    every = scrape.interval
    if every <= 0 or interval < every * 0.95:
        return 0.0
    multiple = interval / every
    if abs(multiple - round(multiple)) > 0.05 * round(multiple):
        return 0.0
    target = scrape.last + max(0.05, MARGIN * every)
    return (target - due + every / 2) % every - every / 2


def warning(interval: float, scrape: float | None, what: str) -> str | None:
    """A timeline line when ``interval`` is shorter than the measured scrape interval."""
    if scrape is None or interval >= scrape * 0.95:
        return None
    return (f"  WARNING: interval {interval:g}s is shorter than the scrape interval of "
            f"{what} ({scrape:.3g}s): ticks in between see no new data")
