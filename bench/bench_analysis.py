"""The analysis decisions by simulation (no lab): false fails and detection power.

Pure functions over counts (``shifter.analysis.decide``, ``.latency``) and the real state
machine (``shifter.state.advance`` over ``shifter.plan.make_plan``), fed with seeded
simulated traffic: a steady ``rps`` split per request at the step's weight (HAProxy's
random pick), errors drawn per request, windows growing from the weight change as the
engine queries them. Measures:

- false fails of the error-rate decision on a healthy release (true rate = limit/2 and
  = limit) for one evaluation at fixed ``n`` (at alpha 0.01 and at the product's alpha per
  evaluation, ``Plan.per_look``), and over whole steps and rollouts (a step is judged every
  tick over a growing window, so it tests repeatedly) for the default config (interval
  10s, bake 60s, steps 10/50/100) and the lab config (interval 1s, bake 3s, deadline 15s);
- detection: the probability of a ``fail`` by the 1st / 2nd / 3rd tick for true error
  rates 2%, 5%, 20% at 5, 25 and 50 rps with 10% on the new colour;
- latency (p99 <= 500ms, 1.5 x the live colour's p99): false fails with one slow
  outlier, and detection of +300 ms.

    .venv/bin/python -m bench.bench_analysis [--quick] [--seed 1]
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import print_tables, table, write_result
from shifter.analysis import decide
from shifter.analysis.analyzer import MIN_WINDOW
from shifter.analysis.latency import latency as latency_decision
from shifter.analysis.verdict import Verdict
from shifter.plan import Plan, make_plan
from shifter.state import Promote, Revert, Sample, SetWeight, Start, State, WeightApplied, advance

LIMIT = 0.01  # max_error_rate
OVER = 0.01  # max_error_rate_over_baseline
ALPHA = 0.01
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


@dataclass(frozen=True)
class Setup:
    """A rollout configuration and the traffic it sees."""

    name: str
    interval: float
    bake: float
    min_requests: int
    rps: float
    steps: tuple[int, ...] = (10, 50, 100)
    deadline: float | None = None

    def plan(self) -> Plan:
        return make_plan(self.steps, bake=self.bake, interval=self.interval,
                         deadline=self.deadline)

    @property
    def alpha(self) -> float:
        """The significance of one evaluation, as the product sets it for this plan."""
        plan = self.plan()
        per_look = getattr(plan, "per_look", None)  # removed in Decisions v2
        return float(per_look(ALPHA)) if per_look is not None else ALPHA


DEFAULT = Setup("default (10s/60s, min 50)", interval=10, bake=60, min_requests=50, rps=50)
LAB = Setup("lab (1s/3s, min 20)", interval=1, bake=3, min_requests=20, rps=50, deadline=15)


@functools.lru_cache(maxsize=1 << 18)
def judge(s: Setup, new: tuple[int, int], base: tuple[int, int], alpha: float | None = None
          ) -> Verdict:
    """The error-rate verdict at ``alpha`` (default: the setup's per-evaluation alpha).

    Pure, so memoised: the same counts come up again and again."""
    return decide.error_rate(new, base, max_rate=LIMIT, max_over_baseline=OVER,
                             min_requests=s.min_requests,
                             alpha=s.alpha if alpha is None else alpha).verdict


# -- single evaluations -------------------------------------------------------------------

def single_false_fail(rng: random.Random, trials: int) -> dict[str, Any]:
    """False-fail rate of one evaluation at n requests (live colour 9n at the given rate)."""
    rows = []
    for rate in (LIMIT / 2, LIMIT):
        for n in (20, 50, 100, 400, 1000):
            fails = Counter[tuple[str, float]]()
            for _ in range(trials):
                e = binomial(rng, n, rate)
                for live_name, live_rate in (("same", rate), ("clean", 0.0)):
                    nb = 9 * n
                    eb = binomial(rng, nb, live_rate)
                    for alpha in (ALPHA, DEFAULT.alpha):
                        if judge(LAB, (n, e), (nb, eb), alpha) is Verdict.FAIL:
                            fails[live_name, alpha] += 1
            rows.append([rate, n, *(fails[k, a] / trials for a in (ALPHA, DEFAULT.alpha)
                                    for k in ("same", "clean"))])
    return {"trials": trials, "rows": rows}


# -- whole steps through the state machine ------------------------------------------------

def simulate_rollout(rng: random.Random, s: Setup, p_new: float, p_live: float
                     ) -> tuple[str, int, list[int]]:
    """One rollout: (outcome, step it ended at, ticks per step). Outcome: promoted, fail,
    deadline."""
    plan = s.plan()
    state, actions = advance(State(), Start(0.0), plan)
    now, weight, ticks = 0.0, 0, [0]
    n = e = nb = eb = 0
    per_tick = round(s.rps * s.interval)
    while True:
        action = actions[0] if actions else None
        if isinstance(action, SetWeight):
            weight, n, e, nb, eb = action.weight, 0, 0, 0, 0
            if action.step:
                ticks.append(0)
            state, actions = advance(state, WeightApplied(now), plan)
            continue
        if isinstance(action, Promote):
            return "promoted", state.step, ticks
        if isinstance(action, Revert):
            return action.cause.value.replace("slo", "fail"), state.step, ticks
        now += s.interval
        ticks[-1] += 1
        g = binomial(rng, per_tick, weight / 100)
        n, e = n + g, e + binomial(rng, g, p_new)
        nb, eb = nb + per_tick - g, eb + binomial(rng, per_tick - g, p_live)
        window = ticks[-1] * s.interval
        verdict = judge(s, (n, e), (nb, eb)) if window >= MIN_WINDOW else Verdict.INCONCLUSIVE
        state, actions = advance(state, Sample(now, verdict), plan)


def step_false_fail(rng: random.Random, trials: int) -> dict[str, Any]:
    """Healthy releases (live colour at the same true rate) through whole rollouts."""
    rows, ticks_rows = [], []
    for s in (DEFAULT, LAB):
        for rate in (LIMIT / 2, LIMIT):
            outcomes = Counter[str]()
            fail_at = Counter[int]()
            ticks_sum = [0, 0, 0]
            reached = [0, 0, 0]
            for _ in range(trials):
                outcome, step, ticks = simulate_rollout(rng, s, rate, rate)
                outcomes[outcome] += 1
                if outcome == "fail":
                    fail_at[step] += 1
                for i, t in enumerate(ticks):
                    ticks_sum[i] += t
                    reached[i] += 1
            per_step = [fail_at[i] / reached[i] if reached[i] else None for i in range(3)]
            mean_ticks = [ticks_sum[i] / reached[i] if reached[i] else 0.0 for i in range(3)]
            rows.append([s.name, rate, *per_step, outcomes["fail"] / trials,
                         outcomes["deadline"] / trials, outcomes["promoted"] / trials])
            ticks_rows.append([s.name, rate, *(round(t, 1) for t in mean_ticks),
                               s.alpha, round(s.alpha * sum(mean_ticks), 4)])
    return {"trials": trials, "rows": rows, "ticks": ticks_rows}


# -- detection power ------------------------------------------------------------------------

def by_tick(rng: random.Random, trials: int, s: Setup, rps: float, draw: Callable[..., Any],
            decision: Callable[..., Verdict], weight: float = 0.10) -> list[float]:
    """P(fail by tick 1, 2, 3) at `weight` of `rps`; `draw(rng, green, blue)` adds counts."""
    hits = [0, 0, 0]
    per_tick = round(rps * s.interval)
    for _ in range(trials):
        acc: Any = None
        for t in range(3):
            g = binomial(rng, per_tick, weight)
            acc = draw(rng, acc, g, per_tick - g)
            if (t + 1) * s.interval >= MIN_WINDOW and decision(acc) is Verdict.FAIL:
                for j in range(t, 3):
                    hits[j] += 1
                break
    return [h / trials for h in hits]


def error_detection(rng: random.Random, trials: int) -> dict[str, Any]:
    live_rate = 0.001
    rows = []
    for s in (DEFAULT, LAB):
        for rps in (5, 25, 50):
            for rate in (0.02, 0.05, 0.20):
                def draw(r: random.Random, acc: Any, g: int, b: int, rate: float = rate) -> Any:
                    n, e, nb, eb = acc or (0, 0, 0, 0)
                    return (n + g, e + binomial(r, g, rate), nb + b,
                            eb + binomial(r, b, live_rate))

                def decision(acc: Any, s: Setup = s) -> Verdict:
                    return judge(s, (acc[0], acc[1]), (acc[2], acc[3]))

                def nominal(acc: Any, s: Setup = s) -> Verdict:
                    return judge(s, (acc[0], acc[1]), (acc[2], acc[3]), ALPHA)

                rows.append([s.name, rps, rate, *by_tick(rng, trials, s, rps, draw, decision),
                             by_tick(rng, trials, s, rps, draw, nominal)[2]])
    return {"trials": trials, "live_rate": live_rate, "rows": rows}


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
                            max_over_baseline=1.5, min_requests=DEFAULT.min_requests,
                            alpha=DEFAULT.alpha).verdict


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
                         *by_tick(rng, trials, DEFAULT, rps, draw,
                                  lambda acc: judge_latency(acc[0], acc[1]))])
    return {"trials": trials, "rows": rows}


# -- the benchmark --------------------------------------------------------------------------

FULL = {"single": 20_000, "steps": 4_000, "detect": 4_000, "outlier": 2_000, "latency": 1_000}
QUICK = {"single": 5_000, "steps": 400, "detect": 1_000, "outlier": 500, "latency": 250}


def run(*, quick: bool = False, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    trials = QUICK if quick else FULL
    t0 = time.monotonic()
    single = single_false_fail(rng, trials["single"])
    steps = step_false_fail(rng, trials["steps"])
    detect = error_detection(rng, trials["detect"])
    outlier = latency_outlier(rng, trials["outlier"])
    lat_detect = latency_detection(rng, trials["latency"])
    took = time.monotonic() - t0
    tables = [
        table(f"error rate, one evaluation: false-fail rate of a healthy release "
              f"(limit {LIMIT:.0%}, +{OVER:.0%} over live, alpha {ALPHA:g}, live colour 9n "
              f"requests; {single['trials']} trials)",
              ["true rate", "n", "same, a=0.01", "error-free, a=0.01",
               f"same, a={DEFAULT.alpha:.2g}", f"error-free, a={DEFAULT.alpha:.2g}"],
              single["rows"]),
        table(f"error rate, whole rollouts (50 rps, steps 10/50/100, live colour at the same "
              f"rate; {steps['trials']} rollouts): false fails per step reached, and outcomes",
              ["config", "true rate", "fail@10%", "fail@50%", "fail@100%", "rollout fail",
               "deadline revert", "promoted"], steps["rows"]),
        table("error rate, evaluations per step reached (mean), alpha per evaluation "
              "(the product's per_look), and alpha/look x evaluations",
              ["config", "true rate", "10%", "50%", "100%", "alpha/look", "x evals"],
              steps["ticks"]),
        table(f"error rate, detection at 10% weight (live colour {detect['live_rate']:.1%}; "
              f"{detect['trials']} trials; windows under {MIN_WINDOW:g}s are inconclusive): "
              f"P(fail by tick) at the product's alpha per evaluation, and by tick 3 at 0.01",
              ["config", "rps", "true rate", "tick 1", "tick 2", "tick 3", "tick 3 a=0.01"],
              detect["rows"]),
        table(f"latency p99 <= 500ms (1.5 x live, alpha {DEFAULT.alpha:.2g}): one 5 s request "
              f"among n "
              f"(all others 10 ms: verdict; lognormal median 100ms: false-fail rate over "
              f"{outlier['trials']} trials)",
              ["n", "verdict (all fast)", "false fail (lognormal)"], outlier["rows"]),
        table(f"latency, detection at 10% weight, interval 10s (lognormal median 100 ms; "
              f"{lat_detect['trials']} trials): P(fail by tick)",
              ["rps", "added", "tick 1", "tick 2", "tick 3"], lat_detect["rows"]),
    ]
    return {"name": "analysis", "date": time.strftime("%Y-%m-%d"), "seed": seed,
            "seconds": round(took, 1), "single": single, "steps": steps,
            "error_detection": detect, "latency_outlier": outlier,
            "latency_detection": lat_detect, "tables": tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials (about 10 s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(quick=args.quick, seed=args.seed)
    write_result("analysis", result)
    print_tables(result)
    print(f"({result['seconds']} s)")


if __name__ == "__main__":
    main()
