"""How fast a bad release is taken away from users: the product's "seconds, not minutes".

In one lab (HAProxy programmed from the emulated router objects, real Prometheus scraping
every second, 50 rps of load), green gets a 20% error rate and ``shifter run`` (the real
CLI, ``--output json``, interval 1s, bake 3s, ``min_requests`` 20) rolls it out, once per
run and router. Per rollout it measures, on one wall clock:

- **a** fault visible -> failing verdict: the first request green answered with a 500 (the
  load generator's answer time) to the first ``verdict`` event with ``fail``;
- **b** failing verdict -> ``reverted``: the revert's API write, read back;
- **c** ``reverted`` -> 100% blue programmed in HAProxy by the lab controller (negative:
  programmed before the CLI had the API's answer); also ``revert`` -> programmed;
- **d** ``reverted`` -> the last answer green gave a user (negative: before it; green
  gets a request every ~200 ms at 10% of 50 rps), and how many green answers came after;
- failed user requests per rollout (status 0 or >= 500, all colours).

``a / interval`` says how many sampling intervals detection took.

    .venv/bin/python -m bench.bench_revert [--runs 5] [--routers gateway,nginx]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from bench import distribution, print_tables, table, write_result

INTERVAL = 1.0
ERROR_RATE = 0.2
SETTLE = 1.5  # seconds after `reverted` before the load generator's records are read


class ProgramLog:
    """Records every split the lab controller programs, with its wall-clock time."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.entries: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        offsets = []
        for _ in range(5):
            offsets.append(time.time() - time.monotonic())
        self._offset = sorted(offsets)[2]
        self._thread = threading.Thread(target=self._run, name="bench-program-log", daemon=True)

    def _run(self) -> None:
        seen = self.controller.generation
        while not self._stop.wait(0.002):
            gen = self.controller.generation
            if gen != seen:
                seen = gen
                self.entries.append((self.controller.programmed_at + self._offset,
                                     dict(self.controller.split)))

    def __enter__(self) -> ProgramLog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def blue_again(self) -> float | None:
        """Wall time blue was programmed to 100% after green had been given traffic."""
        had_green = False
        for at, split in self.entries:
            if split.get("green", 0.0) > 0:
                had_green = True
            elif had_green and split.get("blue", 0.0) >= 100.0:
                return at
        return None


def write_config(path: Path, lab: Any, router: str) -> Path:
    cfg = {
        "release": lab.release, "namespace": lab.namespace, "router": {"kind": router},
        "steps": [10, 50, 100], "bake": "3s", "interval": f"{INTERVAL:g}s",
        "step_deadline": "15s",
        "analysis": {"prometheus": lab.info["prometheus_url"], "preset": "app",
                     "max_error_rate": 0.01, "max_latency_p99": "200ms", "min_requests": 20},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(lab: Any, cfg: Path, timeout: float = 120) -> tuple[int, list[dict[str, Any]], str]:
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    cmd = [sys.executable, "-m", "shifter", "run", lab.release, "-f", str(cfg),
           "--kubeconfig", lab.info["kubeconfig"], "--output", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)
    events = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return proc.returncode, events, proc.stderr


def one_rollout(lab: Any, router: str, cfg: Path) -> dict[str, Any]:
    """One rollout of a green with errors; the measured intervals in seconds."""
    lab.reseed(router)
    lab.fault("green", error_rate=ERROR_RATE)
    started = time.time()
    with ProgramLog(lab.controller) as plog:
        code, events, stderr = run_cli(lab, cfg)
        if code != 3:
            raise RuntimeError(f"{router}: expected exit 3 (rolled back), got {code}:\n"
                               f"{stderr[-2000:]}")
        reverted = next(e for e in events if e["event"] == "reverted")
        time.sleep(max(0.0, reverted["time"] + SETTLE - time.time()))
    records = lab.loadgen.records(since=started)
    step = next(e for e in events if e["event"] == "step")
    revert = next(e for e in events if e["event"] == "revert")
    fail = next(e for e in events if e["event"] == "verdict" and e["verdict"] == "fail")
    plan = next(e for e in events if e["event"] == "plan")
    green = [r for r in records if r.colour == "green"]
    bad = [r.wall + r.latency for r in green if r.status >= 500]
    visible = min(bad) if bad else None
    last_green = max((r.wall + r.latency for r in green), default=None)
    programmed = plog.blue_again()
    check: dict[str, Any] = next((c for c in fail["checks"] if c["check"] == "error-rate"), {})
    values = check.get("values", {})

    def gap(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    a = gap(visible, fail["time"])
    return {
        "router": router,
        "cli_start_to_plan_s": gap(started, plan["time"]),
        "step_to_fail_s": gap(step["time"], fail["time"]),
        "a_visible_to_fail_s": a,
        "a_over_interval": None if a is None else a / INTERVAL,
        "b_fail_to_reverted_s": gap(fail["time"], reverted["time"]),
        "c_reverted_to_programmed_s": gap(reverted["time"], programmed),
        "c_revert_to_programmed_s": gap(revert["time"], programmed),
        "d_reverted_to_last_green_s": gap(reverted["time"], last_green),
        "green_answers_after_reverted": sum(
            1 for r in green if r.wall + r.latency > reverted["time"]),
        "failed_requests": sum(1 for r in records if r.status == 0 or r.status >= 500),
        "green_requests": len(green),
        "fail_weight": fail.get("weight"),
        "fail_window_s": fail.get("window"),
        "verdicts": [_trail(e) for e in events if e["event"] == "verdict"],
        "fail_counts": {"requests": values.get("requests"), "errors": values.get("errors")},
    }


def _trail(verdict: dict[str, Any]) -> dict[str, Any]:
    """One verdict in short: weight, window, verdict and the error-rate counts."""
    check: dict[str, Any] = next(
        (c for c in verdict.get("checks", []) if c["check"] == "error-rate"), {})
    values = check.get("values", {})
    return {"weight": verdict.get("weight"), "window": verdict.get("window"),
            "verdict": verdict.get("verdict"), "requests": values.get("requests"),
            "errors": values.get("errors"), "error_check": check.get("verdict"),
            "reason": (verdict.get("reason") or "")[:200]}


METRICS = [
    ("a_visible_to_fail_s", "a: fault visible -> fail verdict (s)"),
    ("a_over_interval", "a / interval"),
    ("b_fail_to_reverted_s", "b: fail -> reverted (s)"),
    ("c_reverted_to_programmed_s", "c: reverted -> HAProxy 100% blue (s)"),
    ("c_revert_to_programmed_s", "c': revert start -> HAProxy 100% blue (s)"),
    ("d_reverted_to_last_green_s", "d: reverted -> last green answer (s)"),
    ("green_answers_after_reverted", "green answers after reverted"),
    ("failed_requests", "failed user requests / rollout"),
    ("green_requests", "green requests / rollout"),
    ("step_to_fail_s", "10% written -> fail verdict (s)"),
    ("cli_start_to_plan_s", "CLI start -> plan event (s)"),
]


def summarise(runs: list[dict[str, Any]], routers: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, _ in METRICS:
        out[key] = {"all": distribution([r[key] for r in runs if r[key] is not None])}
        for router in routers:
            out[key][router] = distribution(
                [r[key] for r in runs if r["router"] == router and r[key] is not None])
    return out


def run(*, quick: bool = False, runs: int | None = None,
        routers: tuple[str, ...] = ("gateway", "nginx")) -> dict[str, Any]:
    n = runs or (2 if quick else 5)
    results: list[dict[str, Any]] = []
    from lab.core import Lab

    with tempfile.TemporaryDirectory(prefix="bench-revert-") as tmp, \
            Lab(Path(tmp) / "lab", router=routers[0], rps=50) as lab:
        for router in routers:
            cfg = write_config(Path(tmp) / f"{router}.yaml", lab, router)
            for _ in range(n):
                results.append(one_rollout(lab, router, cfg))
        lab.reseed(routers[0])
    summary = summarise(results, list(routers))
    rows = []
    for key, label in METRICS:
        d = summary[key]["all"]
        rows.append([label, d["n"], d["min"], d["median"], d["p90"], d["max"]])
    per_router = [[r, key.split("_")[0], *[summary[key][r][s] for s in ("median", "max")]]
                  for r in routers for key in ("a_visible_to_fail_s", "b_fail_to_reverted_s",
                                               "d_reverted_to_last_green_s", "failed_requests")]
    return {
        "name": "revert",
        "date": time.strftime("%Y-%m-%d"),
        "config": {"interval_s": INTERVAL, "bake_s": 3, "min_requests": 20, "rps": 50,
                   "green_error_rate": ERROR_RATE, "steps": [10, 50, 100],
                   "runs_per_router": n, "routers": list(routers)},
        "summary": summary,
        "runs": results,
        "tables": [
            table(f"revert: green with {ERROR_RATE:.0%} errors, interval {INTERVAL:g}s, "
                  f"{n} rollouts x {len(routers)} routers ({', '.join(routers)})",
                  ["measure", "n", "min", "median", "p90", "max"], rows),
            table("revert: per router", ["router", "measure", "median", "max"], per_router),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="rollouts per router (5)")
    parser.add_argument("--routers", default="gateway,nginx")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, runs=args.runs,
                 routers=tuple(r.strip() for r in args.routers.split(",") if r.strip()))
    write_result("revert", result)
    print_tables(result)


if __name__ == "__main__":
    main()
