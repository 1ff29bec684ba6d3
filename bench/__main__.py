"""Run the benchmarks: ``python -m bench [--quick] [names...]``.

Names: analysis, sequential, cli, revert, lab_decisions, lab_split (default: all, in
that order). Each writes
``bench/results/<name>.json`` and prints its tables. ``--quick`` uses fewer runs and
trials (the whole set in about a minute and a half on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import RESULTS, print_tables, table, write_result

ROOT = Path(__file__).resolve().parent.parent


def _analysis(quick: bool) -> dict[str, Any]:
    from bench import bench_analysis

    return bench_analysis.run(quick=quick)


def _sequential(quick: bool) -> dict[str, Any]:
    from bench import bench_sequential

    return bench_sequential.run(quick=quick)


def _lab_decisions(quick: bool) -> dict[str, Any]:
    from bench import bench_lab_decisions

    return bench_lab_decisions.run(quick=quick)


def _cli(quick: bool) -> dict[str, Any]:
    from bench import bench_cli

    return bench_cli.run(quick=quick)


def _revert(quick: bool) -> dict[str, Any]:
    from bench import bench_revert

    return bench_revert.run(quick=quick)


def _lab_split(quick: bool) -> dict[str, Any]:
    """bench/bench_lab_split.py as a script (it writes lab_split.json itself)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, str(ROOT / "bench" / "bench_lab_split.py"),
           "--requests", "500" if quick else "2000"]
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, timeout=300)
    data: dict[str, Any] = json.loads((RESULTS / "lab_split.json").read_text())
    rows = [[key, value] for key, value in _flatten(data)]
    return {**data, "tables": [table("lab: start, weight-change latency, split accuracy",
                                     ["measure", "value"], rows)]}


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, f"{name}.")
        else:
            out.append((name, value))
    return out


BENCHES: dict[str, Callable[[bool], dict[str, Any]]] = {
    "analysis": _analysis, "sequential": _sequential, "cli": _cli, "revert": _revert,
    "lab_decisions": _lab_decisions, "lab_split": _lab_split,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and trials")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHES)} (default: all)")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"NAME: expected one of {', '.join(BENCHES)}, got {', '.join(unknown)}")
    failed = []
    t0 = time.monotonic()
    for name in names:
        start = time.monotonic()
        print(f"== {name} ==", flush=True)
        try:
            result = BENCHES[name](args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        result.setdefault("date", time.strftime("%Y-%m-%d"))
        result["quick"] = args.quick
        if name != "lab_split":
            write_result(name, result)
        print_tables(result)
        print(f"({name}: {time.monotonic() - start:.1f} s)\n", flush=True)
    print(f"results in {RESULTS} ({time.monotonic() - t0:.0f} s in all)")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
