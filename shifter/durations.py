"""Durations as people write them: ``500ms``, ``10s``, ``2m``, ``1h``, ``1m30s``, bare seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float | int) -> float:
    """Return seconds for ``text``; raise ``ValueError`` naming the accepted forms."""
    if isinstance(text, bool):
        raise ValueError("expected a duration like 500ms, 10s or 2m")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("expected a duration that is not negative")
        return float(text)
    s = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"expected a duration like 500ms, 10s or 2m, got {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Short human form: ``750ms``, ``12s``, ``2m5s``."""
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
