"""The revert is the hot path: time from a failing verdict to the revert's router write
while the Lease API is healthy, failing (every Lease request answered 500) or slow (every
Lease request held 2 s), through the real CLI in the lab (issue 13, defect 6).

Per rollout (gateway router, interval 1 s, ``min_requests`` 40, 50 rps): the Lease fault is
switched on once the first step's weight is written (the Lease must be taken first), then
green gets 30% errors. On one wall clock it measures:

- **fail -> revert**: the failing ``verdict`` event to the ``revert`` event (the line
  written just before the router write);
- **fail -> reverted**: to the ``reverted`` event (the router write answered and read
  back); in intervals too (``/ interval``);
- **largest gap between samples**: consecutive ``verdict`` events (the interval is 1 s);
- **exit after reverted**: the process's exit after ``reverted`` (the final record write,
  which may wait on the Lease API; traffic is already on blue then).

    .venv/bin/python -m bench.bench_revert_lease [--runs 3] [--modes healthy,failing,slow]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import distribution, print_tables, table, write_result

INTERVAL = 1.0
MODES = {"healthy": None,
         "failing": {"resource": "leases", "error_rate": 1.0, "error_code": 500},
         "slow": {"resource": "leases", "latency": 2.0}}


def write_config(path: Path, lab: Any) -> Path:
    cfg = {
        "release": lab.release, "namespace": lab.namespace, "router": {"kind": "gateway"},
        "steps": [10, 50, 100], "bake": "30s", "interval": f"{INTERVAL:g}s",
        "step_deadline": "60s",
        "analysis": {"prometheus": lab.info["prometheus_url"], "preset": "app",
                     "max_error_rate": 0.01, "max_latency_p99": "200ms", "min_requests": 40},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def one_rollout(lab: Any, cfg: Path, mode: str) -> dict[str, Any]:
    lab.reseed("gateway")
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    cmd = [sys.executable, "-m", "shifter", "run", lab.release, "-f", str(cfg),
           "--kubeconfig", lab.info["kubeconfig"], "--output", "json"]
    events: list[dict[str, Any]] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                events.append(event)
                steps = sum(e.get("event") == "step" for e in events)
                if event.get("event") == "step" and steps == 1:
                    if MODES[mode] is not None:
                        lab.apiserver.faults.set(**MODES[mode])
                    lab.fault("green", error_rate=0.3)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        exited = time.time()
        lab.apiserver.faults.clear()
        lab.fault("green", clear=True)
    if code != 3:
        raise RuntimeError(f"{mode}: expected exit 3, got {code}")
    fail = next(e for e in events if e["event"] == "verdict" and e["verdict"] == "fail")
    revert = next(e for e in events if e["event"] == "revert")
    reverted = next(e for e in events if e["event"] == "reverted")
    verdicts = [e["time"] for e in events if e["event"] == "verdict"]
    gaps = [b - a for a, b in zip(verdicts, verdicts[1:], strict=False)]
    return {"mode": mode,
            "max_sample_gap_s": max(gaps) if gaps else None,
            "fail_to_revert_s": revert["time"] - fail["time"],
            "fail_to_reverted_s": reverted["time"] - fail["time"],
            "fail_to_reverted_intervals": (reverted["time"] - fail["time"]) / INTERVAL,
            "exit_after_reverted_s": exited - reverted["time"]}


METRICS = [("max_sample_gap_s", "largest gap between samples (s)"),
           ("fail_to_revert_s", "fail -> revert (s)"),
           ("fail_to_reverted_s", "fail -> reverted (s)"),
           ("fail_to_reverted_intervals", "fail -> reverted / interval"),
           ("exit_after_reverted_s", "exit after reverted (s)")]


def run(*, quick: bool = False, runs: int | None = None,
        modes: tuple[str, ...] = ("healthy", "failing", "slow")) -> dict[str, Any]:
    n = runs or (1 if quick else 3)
    from lab.core import Lab

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-revert-lease-") as tmp, \
            Lab(Path(tmp) / "lab", router="gateway", rps=50) as lab:
        cfg = write_config(Path(tmp) / "shift.yaml", lab)
        for mode in modes:
            for _ in range(n):
                results.append(one_rollout(lab, cfg, mode))
    rows = []
    for mode in modes:
        for key, label in METRICS:
            d = distribution([r[key] for r in results if r["mode"] == mode])
            rows.append([mode, label, d["n"], d["min"], d["median"], d["max"]])
    return {"name": "revert_lease", "date": time.strftime("%Y-%m-%d"),
            "config": {"interval_s": INTERVAL, "runs_per_mode": n, "modes": list(modes),
                       "faults": {m: MODES[m] for m in modes}},
            "runs": results,
            "tables": [table(f"revert under a healthy, failing (500) or slow (2 s) Lease API, "
                             f"{n} rollouts per mode", ["Lease API", "measure", "n", "min",
                                                        "median", "max"], rows)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="rollouts per mode (3)")
    parser.add_argument("--modes", default="healthy,failing,slow")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, runs=args.runs,
                 modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()))
    write_result("revert_lease", result)
    print_tables(result)


if __name__ == "__main__":
    main()
