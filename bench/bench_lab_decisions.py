"""The decisions through the real lab (HAProxy, Prometheus scraping every second, 50 rps).

Issue 9's two lab measurements, with the real CLI (``shifter run --output json``) and the
benches' lab config (interval 1s, bake 3s, deadline 15s, ``min_requests`` 20, steps 10/50/100,
``max_error_rate`` 0.01, p99 200 ms), router ``gateway``:

1. **Revert**: green answers 20% of its requests with a 500 from the start (10% step);
   the time from the first failing green request (the load generator's answer time) to
   the ``reverted`` event (the revert's API write, read back). Target: median <= 3 s.
2. **Healthy rollouts**: 1% errors on *both* colours (a release exactly as good as the
   live one, at the limit): how many are promoted, reverted at a deadline or failed,
   with ``step_deadline`` 15 s and 120 s (``--deadlines``). Target: >= 95% promoted.

    .venv/bin/python -m bench.bench_lab_decisions [--quick] [--reverts 5] [--healthy 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import distribution, print_tables, table, write_result
from bench.bench_revert import one_rollout, run_cli, write_config

ROUTER = "gateway"
HEALTHY_RATE = 0.01
DEADLINES = ("15s", "120s")


def healthy_config(path: Path, lab: Any, deadline: str) -> Path:
    write_config(path, lab, ROUTER)
    cfg = yaml.safe_load(path.read_text())
    cfg["step_deadline"] = deadline
    path.write_text(yaml.safe_dump(cfg))
    return path


def healthy_rollout(lab: Any, cfg: Path) -> dict[str, Any]:
    lab.reseed(ROUTER)
    for colour in ("blue", "green"):
        lab.fault(colour, error_rate=HEALTHY_RATE)
    started = time.time()
    code, events, stderr = run_cli(lab, cfg, timeout=300)
    summary = next((e for e in events if e["event"] == "summary"), {})
    last = [e for e in events if e["event"] == "verdict"][-1:] or [{}]
    failed = any(e["event"] == "verdict" and e.get("verdict") == "fail" for e in events)
    return {"exit_code": code, "failed": failed, "outcome": summary.get("outcome"),
            "cause": summary.get("cause"), "seconds": round(time.time() - started, 1),
            "steps": [e.get("weight") for e in events if e["event"] == "step"],
            "last_reason": (last[0].get("reason") or "")[:300],
            "stderr": stderr[-500:] if code not in (0, 3) else ""}


def run(*, quick: bool = False, reverts: int | None = None, healthy: int | None = None,
        deadlines: tuple[str, ...] = DEADLINES) -> dict[str, Any]:
    from lab.core import Lab

    n_rev = reverts if reverts is not None else (3 if quick else 8)
    n_ok = healthy if healthy is not None else (2 if quick else 10)
    t0 = time.monotonic()
    rev: list[dict[str, Any]] = []
    ok: dict[str, list[dict[str, Any]]] = {d: [] for d in deadlines} if n_ok else {}
    with tempfile.TemporaryDirectory(prefix="bench-labdec-") as tmp, \
            Lab(Path(tmp) / "lab", router=ROUTER, rps=50) as lab:
        cfg = write_config(Path(tmp) / "revert.yaml", lab, ROUTER)
        for _ in range(n_rev):
            rev.append(one_rollout(lab, ROUTER, cfg))
        # blue at 1% for a baseline window before the first healthy rollout
        lab.reseed(ROUTER)
        lab.fault("blue", error_rate=HEALTHY_RATE)
        time.sleep(5 if quick or not n_ok else 60)
        for deadline in ok:
            hcfg = healthy_config(Path(tmp) / f"healthy-{deadline}.yaml", lab, deadline)
            for _ in range(n_ok):
                ok[deadline].append(healthy_rollout(lab, hcfg))
        lab.reseed(ROUTER)
    to_write = [r["a_visible_to_fail_s"] + r["b_fail_to_reverted_s"] for r in rev
                if r["a_visible_to_fail_s"] is not None and r["b_fail_to_reverted_s"] is not None]
    d = distribution(to_write)
    rows = [["first failing green request -> revert write (s)", d["n"], d["min"],
             d["median"], d["p90"], d["max"]]]
    for key, label in (("a_visible_to_fail_s", "first failing request -> fail verdict (s)"),
                       ("b_fail_to_reverted_s", "fail verdict -> revert write (s)"),
                       ("failed_requests", "failed user requests / rollout")):
        x = distribution([r[key] for r in rev if r[key] is not None])
        rows.append([label, x["n"], x["min"], x["median"], x["p90"], x["max"]])
    hrows = []
    for deadline, outs in ok.items():
        n = len(outs)
        promoted = [o["seconds"] for o in outs if o["exit_code"] == 0]
        hrows.append([deadline, n, f"{len(promoted)}/{n}",
                      sum(o["exit_code"] == 3 and not o["failed"] for o in outs),
                      sum(o["exit_code"] == 3 and o["failed"] for o in outs),
                      sum(o["exit_code"] not in (0, 3) for o in outs),
                      distribution(promoted)["median"] if promoted else "-"])
    return {
        "name": "lab_decisions", "date": time.strftime("%Y-%m-%d"),
        "seconds": round(time.monotonic() - t0, 1),
        "config": {"router": ROUTER, "rps": 50, "interval_s": 1, "bake_s": 3,
                   "min_requests": 20, "revert_error_rate": 0.2, "healthy_rate": HEALTHY_RATE},
        "reverts": rev, "healthy": ok,
        "tables": [
            table(f"lab: green with 20% errors at 10% of 50 rps, interval 1 s ({n_rev} runs)",
                  ["measure", "n", "min", "median", "p90", "max"], rows),
            table(f"lab: healthy rollouts, {HEALTHY_RATE:.0%} errors on both colours",
                  ["step_deadline", "runs", "promoted", "deadline revert", "false fail",
                   "other exit", "promotion s median"], hrows),
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reverts", type=int, default=None)
    ap.add_argument("--healthy", type=int, default=None)
    ap.add_argument("--deadlines", default=",".join(DEADLINES),
                    help="step deadlines of the healthy rollouts, comma-separated")
    args = ap.parse_args()
    result = run(quick=args.quick, reverts=args.reverts, healthy=args.healthy,
                 deadlines=tuple(args.deadlines.split(",")))
    write_result("lab_decisions", result)
    print_tables(result)


if __name__ == "__main__":
    main()
