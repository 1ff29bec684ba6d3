"""How fast ``shifter undo`` puts traffic back, and how fast the watch after the promotion
flips a release that breaks after it.

In one lab (HAProxy programmed from the emulated router objects, real Prometheus scraping
every second, 50 rps of load), per run and router, on one wall clock:

- **undo**: a rollout blue -> green is promoted (steps 10,100, bake 1s); then the real CLI
  ``shifter undo`` runs. Measured: command started -> 100% blue programmed in HAProxy by
  the lab controller (``undo_command_s``: includes the Python start-up and the Lease
  take-over), and the router write alone as the command reports it (``undo_write_s``);
  user requests lost (status 0) from the command's start until 1 s after.
- **watch**: a rollout blue -> green with ``after_promotion: {watch: 30s}``; 10 s after
  the ``watch`` event green gets 100% errors. Measured: fault -> ``reverted`` event
  (``watch_fault_to_reverted_s``) and in intervals (``watch_ticks``), and the user
  requests lost (status 0) from the fault until 1 s after the flip.

    .venv/bin/python -m bench.bench_undo [--runs 3] [--routers gateway,nginx]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import distribution, print_tables, table, write_result
from bench.bench_revert import ProgramLog

INTERVAL = 1.0


def _cfg(path: Path, lab: Any, router: str, **extra: Any) -> Path:
    cfg = {
        "release": lab.release, "namespace": lab.namespace, "router": {"kind": router},
        "steps": [10, 100], "bake": "1s", "interval": f"{INTERVAL:g}s", "step_deadline": "15s",
        "analysis": {"prometheus": lab.info["prometheus_url"], "preset": "app",
                     "max_error_rate": 0.01, "max_latency_p99": "200ms", "min_requests": 20},
        **extra,
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cmd(lab: Any, *args: str) -> list[str]:
    out = [sys.executable, "-m", "shifter", *args, "--kubeconfig", lab.info["kubeconfig"]]
    return out + (["--output", "json"] if args[0] == "run" else [])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]


def _lost(lab: Any, since: float, until: float) -> int:
    recs = lab.loadgen.records(since)
    return sum(1 for r in recs if r.wall <= until and r.status == 0)


def one_undo(lab: Any, router: str, cfg: Path) -> dict[str, Any]:
    lab.reseed(router)
    run = subprocess.run(_cmd(lab, "run", "shop", "-f", str(cfg)), capture_output=True,
                         text=True, env=_env(), timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    lab.controller.wait_for({"green": 100.0}, timeout=10)
    with ProgramLog(lab.controller) as plog:
        t0 = time.time()
        undo = subprocess.run(_cmd(lab, "undo", "shop", "-n", lab.namespace),
                              capture_output=True, text=True, env=_env(), timeout=120,
                              check=False)
        lab.controller.wait_for({"blue": 100.0}, timeout=10)
        time.sleep(1.0)
    assert undo.returncode == 0, undo.stderr[-2000:]
    blue = next((at for at, split in plog.entries if split.get("blue", 0) >= 100), None)
    m = re.search(r" in ([0-9.]+)(ms|s)\b", undo.stdout)
    write = (float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)) if m else None
    return {"router": router, "undo_command_s": None if blue is None else blue - t0,
            "undo_write_s": write, "undo_lost": _lost(lab, t0, time.time())}


def one_watch(lab: Any, router: str, cfg: Path) -> dict[str, Any]:
    lab.reseed(router)
    proc = subprocess.Popen(_cmd(lab, "run", "shop", "-f", str(cfg)), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=_env())
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if '"event":"watch"' in line:
            break
    watch_at = json.loads(lines[-1])["time"]
    time.sleep(max(0.0, watch_at + 10 - time.time()))
    fault = time.time()
    lab.fault("green", error_rate=1.0)
    rest, _ = proc.communicate(timeout=120)
    events = _events("".join(lines) + rest)
    reverted = next(e for e in events if e["event"] == "reverted")
    time.sleep(1.0)
    lab.fault("green", clear=True)
    return {"router": router, "exit_code": proc.returncode,
            "watch_fault_to_reverted_s": reverted["time"] - fault,
            "watch_ticks": (reverted["time"] - fault) / INTERVAL,
            "watch_lost": _lost(lab, fault, reverted["time"] + 1.0)}


METRICS = [("undo_command_s", "undo: command start -> 100% old colour programmed (s)"),
           ("undo_write_s", "undo: the router write (s)"),
           ("undo_lost", "undo: requests lost"),
           ("watch_fault_to_reverted_s", "watch: fault -> reverted (s)"),
           ("watch_ticks", "watch: fault -> reverted (intervals)"),
           ("watch_lost", "watch: requests lost")]


def run(*, quick: bool = False, runs: int | None = None,
        routers: tuple[str, ...] = ("gateway", "nginx")) -> dict[str, Any]:
    n = runs or (1 if quick else 3)
    from lab.core import Lab

    undos: list[dict[str, Any]] = []
    watches: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-undo-") as tmp, \
            Lab(Path(tmp) / "lab", router=routers[0], rps=50) as lab:
        for router in routers:
            plain = _cfg(Path(tmp) / f"{router}.yaml", lab, router)
            watched = _cfg(Path(tmp) / f"{router}-watch.yaml", lab, router,
                           after_promotion={"watch": "30s"})
            for _ in range(n):
                undos.append(one_undo(lab, router, plain))
                watches.append(one_watch(lab, router, watched))
        lab.reseed(routers[0])
    rows = []
    for key, label in METRICS:
        source = undos if key.startswith("undo") else watches
        d = distribution([r[key] for r in source if r[key] is not None])
        rows.append([label, d["n"], d["min"], d["median"], d["p90"], d["max"]])
    return {
        "name": "undo",
        "date": time.strftime("%Y-%m-%d"),
        "config": {"interval_s": INTERVAL, "rps": 50, "runs_per_router": n,
                   "routers": list(routers), "watch_s": 30, "fault_after_promotion_s": 10},
        "undo": undos, "watch": watches,
        "tables": [table(f"undo and the watch after the promotion: {n} runs x "
                         f"{len(routers)} routers ({', '.join(routers)})",
                         ["measure", "n", "min", "median", "p90", "max"], rows)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per router (3)")
    parser.add_argument("--routers", default="gateway,nginx")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, runs=args.runs,
                 routers=tuple(r.strip() for r in args.routers.split(",") if r.strip()))
    write_result("undo", result)
    print_tables(result)


if __name__ == "__main__":
    main()
