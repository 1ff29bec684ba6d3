"""shifter's benchmarks: speed, memory and statistical behaviour, measured in one run.

Each benchmark module has ``run(quick=...) -> dict`` returning its measurements and the
``tables`` to print; ``python -m bench`` runs them, writes ``bench/results/<name>.json``
and prints the tables. Nothing here asserts a time: the numbers are for people to read.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between order statistics."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def distribution(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """``n``, ``min``, ``median``, ``p90`` and ``max`` of `values` (None when empty)."""
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return {"n": 0, "min": None, "median": None, "p90": None, "max": None}
    return {"n": len(xs), "min": round(min(xs), digits),
            "median": round(statistics.median(xs), digits),
            "p90": round(percentile(xs, 0.9), digits), "max": round(max(xs), digits)}


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """A table for printing and for the JSON result."""
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows]}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def format_table(t: dict[str, Any]) -> str:
    """A plain-text table with a title line."""
    cells = [[str(c) for c in t["columns"]]] + [[_cell(v) for v in row] for row in t["rows"]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = [t["title"]]
    for n, row in enumerate(cells):
        lines.append("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                      for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write `result` to ``bench/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def print_tables(result: dict[str, Any]) -> None:
    for t in result.get("tables", []):
        print(format_table(t))
        print()
