"""Durations in one syntax everywhere: Go's (``time.ParseDuration``), as Kubernetes, Argo
Rollouts and Flagger write them.

``500ms``, ``10s``, ``1m30s``, ``2h``, ``1.5s``; units ``ns``, ``us`` (or ``µs``), ``ms``,
``s``, ``m``, ``h``; ``0`` alone is zero. A bare number (``500``) is refused: it is not
clear whether it means milliseconds or seconds (``max_latency_p99: 500`` once meant 500
seconds), so the error suggests both spellings. Negative durations, ``inf``/``nan`` and
anything over Go's limit (about 292 years) are refused too.
"""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0,
          "h": 3600.0}
MAX_SECONDS = (2**63 - 1) / 1e9  # Go's time.Duration is int64 nanoseconds
EXAMPLES = "500ms, 10s, 1m30s or 2h"


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_duration(text: str | float | int) -> float:
    """Seconds for a Go-style duration; ``ValueError`` saying what was expected."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a duration like {EXAMPLES}, got a "
                         f"{type(text).__name__}")
    if isinstance(text, int | float):
        if text == 0:
            return 0.0
        if isinstance(text, float) and not math.isfinite(text):
            raise ValueError(f"expected a duration like {EXAMPLES}, got {text}")
        n = _number(text)
        raise ValueError(f"expected a duration with a unit, like {n}ms or {n}s, got the "
                         f"bare number {n}")
    s = text.strip()
    if s == "0":
        return 0.0
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", s):
        raise ValueError(f"expected a duration with a unit, like {s}ms or {s}s, got the bare "
                         f"number {s}")
    if s.startswith("-"):
        raise ValueError(f"expected a duration that is not negative, got {text!r}")
    body = s.removeprefix("+")
    pos = 0
    total = 0.0
    for m in _PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(f"expected a duration like {EXAMPLES}, got {_shown(text)}")
    if total > MAX_SECONDS:
        raise ValueError(f"expected a duration under 292 years, got {_shown(text)}")
    return total


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def format_duration(seconds: float) -> str:
    """Short human form, itself a valid duration: ``750ms``, ``12s``, ``2m5s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}m{s}s" if s else f"{m}m"
    h, m = divmod(m, 60)
    return f"{h}h{m}m" if m else f"{h}h"


def prom_window(seconds: float) -> str:
    """A PromQL range selector duration, whole seconds, at least 1s: ``17s``."""
    return f"{max(1, int(seconds))}s"
