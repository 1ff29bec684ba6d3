"""The latency decisions by simulation (no lab): false fails and detection power.

The error-rate decisions (the anytime bound, rollouts, detection, the peers) are measured
in ``bench_sequential``; this file measures what only the latency check does, with the
product's own ``shifter.analysis.latency.latency`` at the alpha the analyzer gives it
(0.01 shared by two count checks, then halved between the absolute and the relative
test: 0.0025 each), evidence carried across ticks as the analyzer does:

- one 5 s request among n others (all 10 ms: the verdict; lognormal with median 100 ms:
  the false-fail rate), p99 <= 500 ms, 1.5 x the live colour's p99;
- detection of +300 ms on that lognormal at 10% weight, interval 10 s: P(fail by the
  1st / 2nd / 3rd tick) at 5, 25 and 50 rps, and no false fail without the shift;
- the relative test over a whole step looked at every tick (a new colour exactly as
  fast as the live one): false fails with the evidence carried.

    .venv/bin/python -m bench.bench_analysis [--quick] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from typing import Any

from bench import print_tables, table, write_result
from shifter.analysis.latency import latency as latency_decision
from shifter.analysis.verdict import Verdict

ALPHA = 0.0025  # the latency check's absolute (and relative) test in the default config
MIN_REQUESTS = 50
INTERVAL = 10.0
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0)  # lab app's


def binomial(rng: random.Random, n: int, p: float) -> int:
    """An exact Binomial(n, p) draw by geometric gaps (cost ~ n * min(p, 1 - p))."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1.0 - p)
    log_q = math.log1p(-p)
    k, pos = 0, -1
    while True:
        pos += int(math.log(1.0 - rng.random()) / log_q) + 1
        if pos >= n:
            return k
        k += 1


def by_tick(rng: random.Random, trials: int, rps: float, draw: Callable[..., Any],
            decision: Callable[..., Verdict], weight: float = 0.10, ticks: int = 3
            ) -> list[float]:
    """P(fail by tick 1..ticks) at ``weight`` of ``rps``; ``draw(rng, acc, g, b)`` adds
    ``g`` new-colour and ``b`` live-colour requests to the counts of the step."""
    hits = [0] * ticks
    per_tick = round(rps * INTERVAL)
    for _ in range(trials):
        acc: Any = None
        for t in range(ticks):
            g = binomial(rng, per_tick, weight)
            acc = draw(rng, acc, g, per_tick - g)
            if decision(acc) is Verdict.FAIL:
                for j in range(t, ticks):
                    hits[j] += 1
                break
    return [h / trials for h in hits]


# -- latency --------------------------------------------------------------------------------

LAT_MEDIAN = 0.1  # healthy latency: lognormal, median 100 ms, sigma 0.5 (p99 ~ 320 ms)
LAT_SIGMA = 0.5
LAT_LIMIT = 0.5


def histogram(latencies: list[int]) -> list[tuple[float, float]]:
    """Cumulative bucket counts from per-bucket counts (index len(BUCKETS) = +Inf)."""
    out, acc = [], 0
    for bound, count in zip((*BUCKETS, math.inf), latencies, strict=True):
        acc += count
        out.append((bound, float(acc)))
    return out


def add_latencies(rng: random.Random, counts: list[int], k: int, shift: float = 0.0) -> None:
    mu = math.log(LAT_MEDIAN)
    for _ in range(k):
        x = rng.lognormvariate(mu, LAT_SIGMA) + shift
        counts[next((i for i, b in enumerate(BUCKETS) if x <= b), len(BUCKETS))] += 1


def judge_latency(new: list[int], base: list[int]) -> Verdict:
    return latency_decision(histogram(new), histogram(base), limit=LAT_LIMIT, quantile=0.99,
                            max_over_baseline=1.5, min_requests=MIN_REQUESTS,
                            alpha=ALPHA, alpha_relative=ALPHA).verdict


def latency_outlier(rng: random.Random, trials: int) -> dict[str, Any]:
    """One 5 s request among n healthy ones: deterministic (all 10 ms) and random."""
    rows = []
    for n in (5, 10, 20, 50, 100, 400):
        fast = [0] * (len(BUCKETS) + 1)
        fast[1] = n - 1
        fast[BUCKETS.index(5.0)] += 1
        base = [0] * (len(BUCKETS) + 1)
        base[1] = 9 * n
        fixed = judge_latency(fast, base).value
        fails = 0
        for _ in range(trials):
            new = [0] * (len(BUCKETS) + 1)
            live = [0] * (len(BUCKETS) + 1)
            add_latencies(rng, new, n - 1)
            new[BUCKETS.index(5.0)] += 1
            add_latencies(rng, live, 9 * n)
            fails += judge_latency(new, live) is Verdict.FAIL
        rows.append([n, fixed, fails / trials])
    return {"trials": trials, "rows": rows}


def latency_detection(rng: random.Random, trials: int) -> dict[str, Any]:
    rows = []
    for rps in (5, 25, 50):
        for shift in (0.0, 0.3):
            def draw(r: random.Random, acc: Any, g: int, b: int, shift: float = shift) -> Any:
                new, live = acc or ([0] * (len(BUCKETS) + 1), [0] * (len(BUCKETS) + 1))
                add_latencies(r, new, g, shift)
                add_latencies(r, live, b)
                return new, live

            rows.append([rps, f"+{shift * 1000:.0f}ms",
                         *by_tick(rng, trials, rps, draw,
                                  lambda acc: judge_latency(acc[0], acc[1]))])
    return {"trials": trials, "rows": rows}


# -- the benchmark --------------------------------------------------------------------------

def relative_whole_step(rng: random.Random, trials: int) -> dict[str, Any]:
    """A new colour exactly as fast as the live one (p99 ~ 320 ms, limit 2.5 s so only the
    relative test can fail), three steps of 18 ticks each at 50 rps, judged at every tick
    with the earlier steps' histograms carried: P(any fail)."""
    fails = 0
    for _ in range(trials):
        prior: list[list[tuple[float, float]]] = []
        live_prior: list[list[tuple[float, float]]] = []
        failed = False
        for weight in (0.1, 0.5, 1.0):
            new, live = [0] * (len(BUCKETS) + 1), [0] * (len(BUCKETS) + 1)
            for _ in range(18):
                g = binomial(rng, 500, weight)
                add_latencies(rng, new, g)
                add_latencies(rng, live, 500 - g)
                d = latency_decision(histogram(new), histogram(live), limit=2.5, quantile=0.99,
                                     max_over_baseline=1.5, min_requests=MIN_REQUESTS,
                                     alpha=ALPHA, alpha_relative=ALPHA, prior_buckets=prior,
                                     live_prior_buckets=live_prior)
                if d.verdict is Verdict.FAIL:
                    failed = True
                    break
            if failed:
                break
            prior.append(histogram(new))
            if sum(live):
                live_prior.append(histogram(live))
        fails += failed
    return {"trials": trials, "false_fail": fails / trials}


FULL = {"outlier": 2_000, "latency": 1_000, "relative": 400}
QUICK = {"outlier": 300, "latency": 200, "relative": 60}


def run(*, quick: bool = False, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    trials = QUICK if quick else FULL
    t0 = time.monotonic()
    outlier = latency_outlier(rng, trials["outlier"])
    lat_detect = latency_detection(rng, trials["latency"])
    relative = relative_whole_step(rng, trials["relative"])
    took = time.monotonic() - t0
    tables = [
        table(f"latency p99 <= 500ms (1.5 x live, alpha {ALPHA:g} per test): one 5 s request "
              f"among n (all others 10 ms: verdict; lognormal median 100ms: false-fail rate "
              f"over {outlier['trials']} trials)",
              ["n", "verdict (all fast)", "false fail (lognormal)"], outlier["rows"]),
        table(f"latency, detection at 10% weight, interval 10s (lognormal median 100 ms; "
              f"{lat_detect['trials']} trials): P(fail by tick)",
              ["rps", "added", "tick 1", "tick 2", "tick 3"], lat_detect["rows"]),
        table("latency relative test (1.5 x live), new colour as fast as live, 3 steps x 18 "
              "ticks at 50 rps, evidence carried: P(any false fail)",
              ["trials", "false fail", "bound (alpha of the test)"],
              [[relative["trials"], relative["false_fail"], ALPHA]]),
    ]
    return {"name": "analysis", "date": time.strftime("%Y-%m-%d"), "seed": seed,
            "seconds": round(took, 1), "latency_outlier": outlier,
            "latency_detection": lat_detect, "relative": relative, "tables": tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(quick=args.quick, seed=args.seed)
    write_result("analysis", result)
    print_tables(result)
    print(f"({result['seconds']} s)")


if __name__ == "__main__":
    main()
