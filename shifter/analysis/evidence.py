"""What the analyzer reads from a query result and carries across ticks, steps and runs.

``read`` turns one check's samples into per-colour values (pure); ``Evidence`` is what a
check has seen of the rollout; ``dump`` and ``load_into`` are its JSON form in the Lease
record (``analysis``), so a resumed run (or a resumed watch) tests the same streams.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .checks import CheckKind
from .decide import Buckets
from .prometheus import Sample
from .rates import Segment


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


@dataclass
class Evidence:
    """What one check has seen of this rollout: earlier steps' counts (new colour and live
    colour, ``(requests, events)``), this step's latest, and the recorded baseline."""

    prior: list[Segment] = field(default_factory=list)
    live_prior: list[Segment] = field(default_factory=list)
    last: Segment | None = None
    live_last: Segment | None = None
    baseline: Series | None = None
    prior_pass: list[Segment] = field(default_factory=list)  # latency: counted for a pass
    last_pass: Segment | None = None
    prior_buckets: list[Buckets] = field(default_factory=list)  # latency: per step
    live_prior_buckets: list[Buckets] = field(default_factory=list)
    last_buckets: Buckets | None = None
    live_last_buckets: Buckets | None = None

    def fold(self) -> None:
        """A new step starts: this step's latest counts become evidence carried forward."""
        if self.last is not None and self.last[0] > 0:
            self.prior.append(self.last)
        if self.live_last is not None and self.live_last[0] > 0:
            self.live_prior.append(self.live_last)
        if self.last_pass is not None and self.last_pass[0] > 0:
            self.prior_pass.append(self.last_pass)
        if self.last_buckets:
            self.prior_buckets.append(self.last_buckets)
        if self.live_last_buckets:
            self.live_prior_buckets.append(self.live_last_buckets)
        self.last = self.live_last = self.last_pass = None
        self.last_buckets = self.live_last_buckets = None


def dump(evidence: Mapping[str, Evidence], live_service: str) -> dict[str, object]:
    """The carried evidence, JSON-safe, for the Lease record (see :func:`load_into`)."""
    return {name: {"prior": [list(x) for x in e.prior + ([e.last] if e.last else [])],
                   "live_prior": [list(x) for x in e.live_prior
                                  + ([e.live_last] if e.live_last else [])],
                   "prior_pass": [list(x) for x in e.prior_pass
                                  + ([e.last_pass] if e.last_pass else [])],
                   "prior_buckets": [_json_buckets(b) for b in e.prior_buckets
                                     + ([e.last_buckets] if e.last_buckets else [])],
                   "live_prior_buckets": [
                       _json_buckets(b) for b in e.live_prior_buckets
                       + ([e.live_last_buckets] if e.live_last_buckets else [])],
                   "baseline": _json_baseline(e.baseline, live_service)}
            for name, e in evidence.items()}


def load_into(evidence: Mapping[str, Evidence], recorded: object) -> None:
    """Restore what :func:`dump` wrote into ``evidence`` (a resumed run). Unknown or
    malformed entries are ignored."""
    if not isinstance(recorded, dict):
        return
    for name, e in evidence.items():
        item = recorded.get(name)
        if not isinstance(item, dict):
            continue
        e.prior = _segments(item.get("prior"))
        e.live_prior = _segments(item.get("live_prior"))
        e.prior_pass = _segments(item.get("prior_pass"))
        e.prior_buckets = _buckets_list(item.get("prior_buckets"))
        e.live_prior_buckets = _buckets_list(item.get("live_prior_buckets"))
        e.last = e.live_last = e.last_pass = None
        e.last_buckets = e.live_last_buckets = None
        e.baseline = _baseline(item.get("baseline")) or e.baseline


def _json_baseline(b: Series | None, service: str) -> dict[str, object] | None:
    """The live colour's pre-rollout counts and buckets (what the watch after the promotion
    judges against), JSON-safe: non-finite counts are left out."""
    if b is None:
        return None
    counts = {k: v for k, v in b.counts.get(service, {}).items() if math.isfinite(v)}
    return {"service": service, "counts": counts,
            "buckets": _json_buckets(b.buckets.get(service, []))}


def _baseline(raw: object) -> Series | None:
    """A recorded baseline (``_json_baseline``), or None when absent or malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("service"), str):
        return None
    service, counts = raw["service"], raw.get("counts")
    got = ({k: float(v) for k, v in counts.items() if isinstance(v, int | float)}
           if isinstance(counts, dict) else {})
    buckets = _buckets_list([raw.get("buckets")])
    return Series({service: got} if got else {}, {service: list(buckets[0])} if buckets else {},
                  {})


def _segments(raw: object) -> list[Segment]:
    out: list[Segment] = []
    if isinstance(raw, list):
        for x in raw:
            if (isinstance(x, list) and len(x) == 2 and all(isinstance(i, int) for i in x)
                    and 0 <= x[1] <= x[0]):
                out.append((x[0], x[1]))
    return out


def _json_buckets(b: Buckets) -> list[list[object]]:
    """Buckets for JSON: ``+Inf`` as the string Prometheus uses."""
    return [["+Inf" if math.isinf(le) else le, c] for le, c in b]


def _buckets_list(raw: object) -> list[Buckets]:
    out: list[Buckets] = []
    for item in raw if isinstance(raw, list) else []:
        got: list[tuple[float, float]] = []
        for x in item if isinstance(item, list) else []:
            if isinstance(x, list) and len(x) == 2 and isinstance(x[1], int | float):
                try:
                    got.append((float(x[0]), float(x[1])))
                except (TypeError, ValueError):
                    continue
        if got:
            out.append(got)
    return out
