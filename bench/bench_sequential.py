"""Decisions v2 by seeded simulation: the anytime guarantee, rollouts, and the peers.

The product's own decision (``shifter.analysis.decide.error_rate`` with the evidence
carried across steps and the baseline recorded before the first step, exactly as the
``Analyzer`` feeds it) and state machine (``shifter.state.advance``), fed with steady
traffic split per request at the step's weight, errors drawn per request, counts exact
at each tick (the ``@`` form). The default config has two count checks (error rate and
latency), so the error-rate check gets half of alpha 0.01, split between its absolute
and relative tests as the analyzer splits it (``Analyzer.alphas``: 3/4 and 1/4, since the
default 1-point allowance over a 1% limit only decides whether a breach is shared):
0.00375 and 0.00125.

1. **Proof of the bound**: a release exactly at its limit (1%, live colour 1% too) and
   at half of it, judged after *every* tick of every step, ignoring passes and deadlines,
   for three times the deadline: P(any fail) must be <= 0.005 (the check's share).
2. **Rollouts** through the state machine: false reverts, deadline reverts, promotions
   and promotion time, default config (10 s / bake 60 s / min 50) and lab config (1 s /
   3 s / deadline 15 s / min 20; and with deadline 120 s), at 5, 50 and 500 rps, 1% on
   both colours and 0.5%; and **bad releases let through**: how many rollouts of a
   release at 2x and 5x the limit (live colour at 0.1% or at the 1% limit) are promoted,
   next to the healthy ones (the promotion rule's trade-off).
3. **Side by side** with Flagger's default (every 60 s, success rate over 1m < 99%
   fails, threshold 1) and Argo Rollouts' typical analysis (error ratio over 5m > 1%,
   failureLimit 0, every 1m and every 10s): time from the first new-colour request to
   the revert decision at 20%, 5%, 2% errors (10% weight), false reverts at half the
   limit and at it, and a shared outage (both colours at 20%). The information limit:
   Wald's expected sample size for the optimal test of 1% against the true rate at
   alpha 0.00375 (no sound test needs fewer requests on average), as time at that traffic.

    .venv/bin/python -m bench.bench_sequential [--quick] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench import percentile, print_tables, table, write_result
from bench.bench_analysis import binomial
from shifter.analysis import decide
from shifter.analysis.analyzer import ABS_SHARE
from shifter.analysis.verdict import Verdict
from shifter.plan import make_plan
from shifter.state import Promote, Revert, Sample, SetWeight, Start, State, WeightApplied, advance

LIMIT, OVER, ALPHA_CHECK = 0.01, 0.01, 0.005
A_ABS, A_REL = ALPHA_CHECK * ABS_SHARE, ALPHA_CHECK * (1 - ABS_SHARE)


@dataclass(frozen=True)
class Cfg:
    name: str
    interval: float
    bake: float
    min_requests: int
    deadline: float | None = None


DEFAULT = Cfg("default", 10, 60, 50)
LAB = Cfg("lab", 1, 3, 20, 15)
LAB120 = Cfg("lab, deadline 120s", 1, 3, 20, 120)


class Colour:
    """Cumulative counts of one colour this step."""

    def __init__(self) -> None:
        self.n = self.e = 0

    def add(self, rng: random.Random, n: int, rate: float) -> None:
        self.n += n
        self.e += binomial(rng, n, rate)


def judge(new: Colour, live: Colour, prior: list[tuple[int, int]],
          live_prior: list[tuple[int, int]], baseline: tuple[int, int], cfg: Cfg,
          promote: bool = False) -> Verdict:
    return decide.error_rate(
        (new.n, new.e), (live.n, live.e), max_rate=LIMIT, max_over_baseline=OVER,
        min_requests=cfg.min_requests, alpha=A_ABS, alpha_relative=A_REL, prior=prior,
        live_prior=live_prior, baseline=baseline, promote=promote).verdict


def split(rng: random.Random, total: int, weight: int) -> int:
    return binomial(rng, total, weight / 100)


def any_look_fails(rng: random.Random, cfg: Cfg, rps: float, rate: float) -> bool:
    """Look after every tick of every step for three deadlines; True on any fail."""
    plan = make_plan((10, 50, 100), bake=cfg.bake, interval=cfg.interval, deadline=cfg.deadline)
    baseline = (int(rps * max(cfg.bake, 60)), 0)
    baseline = (baseline[0], binomial(rng, baseline[0], rate))
    prior: list[tuple[int, int]] = []
    live_prior: list[tuple[int, int]] = []
    per_tick = int(rps * cfg.interval)
    for step in plan.steps:
        new, live = Colour(), Colour()
        for _ in range(int(3 * step.deadline / cfg.interval)):
            k = split(rng, per_tick, step.weight)
            new.add(rng, k, rate)
            live.add(rng, per_tick - k, rate)
            if new.n and judge(new, live, prior, live_prior, baseline, cfg) is Verdict.FAIL:
                return True
        prior.append((new.n, new.e))
        if live.n:
            live_prior.append((live.n, live.e))
    return False


def rollout(rng: random.Random, cfg: Cfg, rps: float, rate: float, live_rate: float
            ) -> tuple[str, float]:
    """One rollout through the state machine: (outcome, seconds)."""
    plan = make_plan((10, 50, 100), bake=cfg.bake, interval=cfg.interval, deadline=cfg.deadline)
    nb = int(rps * max(cfg.bake, 60))
    baseline = (nb, binomial(rng, nb, live_rate))
    prior: list[tuple[int, int]] = []
    live_prior: list[tuple[int, int]] = []
    t = 0.0
    state, actions = advance(State(), Start(t), plan)
    per_tick = int(rps * cfg.interval)
    while True:
        act = actions[0] if actions else None
        if isinstance(act, SetWeight):
            new, live = Colour(), Colour()
            state, actions = advance(state, WeightApplied(t), plan)
            weight = act.weight
            continue
        if isinstance(act, Promote):
            return "promoted", t
        if isinstance(act, Revert):
            return act.cause.value, t
        t += cfg.interval
        k = split(rng, per_tick, weight)
        new.add(rng, k, rate)
        live.add(rng, per_tick - k, live_rate)
        v = (judge(new, live, prior, live_prior, baseline, cfg, weight == 100) if new.n
             else Verdict.INCONCLUSIVE)
        state, actions = advance(state, Sample(t, v), plan)
        if actions and isinstance(actions[0], SetWeight):
            prior.append((new.n, new.e))
            if live.n:
                live_prior.append((live.n, live.e))


# -- the peers ---------------------------------------------------------------------------

def detect_time(rng: random.Random, policy: str, rps: float, rate: float, live_rate: float,
                horizon: float = 900.0) -> float | None:
    """Seconds from the first new-colour request (10% weight) to the revert decision, by
    one-second slots; None if never within ``horizon``."""
    new_per_s: list[tuple[int, int]] = []
    live_per_s: list[tuple[int, int]] = []
    interval = {"shifter": 10.0, "shifter-lab": 1.0, "flagger": 60.0, "argo-1m": 60.0,
                "argo-10s": 10.0}[policy]
    window = {"flagger": 60, "argo-1m": 300, "argo-10s": 300}.get(policy)
    cfg = DEFAULT if policy == "shifter" else LAB
    nb = int(rps * 60)
    baseline = (nb, binomial(rng, nb, live_rate))
    first = None
    for s in range(1, int(horizon) + 1):
        total = int(rps)
        k = split(rng, total, 10)
        new_per_s.append((k, binomial(rng, k, rate)))
        live_per_s.append((total - k, binomial(rng, total - k, live_rate)))
        if first is None and k:
            first = s - 1 + rng.random()
        if s % interval:
            continue
        if window is None:
            new, live = Colour(), Colour()
            new.n, new.e = (sum(x[0] for x in new_per_s), sum(x[1] for x in new_per_s))
            live.n, live.e = (sum(x[0] for x in live_per_s), sum(x[1] for x in live_per_s))
            v = judge(new, live, [], [], baseline, cfg) if new.n else Verdict.INCONCLUSIVE
            failed = v is Verdict.FAIL
        else:
            recent = new_per_s[-window:]
            n, e = sum(x[0] for x in recent), sum(x[1] for x in recent)
            failed = n > 0 and e / n > LIMIT  # success rate below 99% / error ratio > 1%
        if failed:
            return s - (first or 0.0)
    return None


def information_limit(rate: float, rps: float) -> float:
    """Wald's expected sample size for 1% vs ``rate`` at alpha A_ABS, as seconds at 10%."""
    kl = rate * math.log(rate / LIMIT) + (1 - rate) * math.log((1 - rate) / (1 - LIMIT))
    return math.log(1 / A_ABS) / kl / (rps * 0.1)


def _med_p95(xs: list[float | None]) -> tuple[Any, Any, float]:
    got = [x for x in xs if x is not None]
    if not got:
        return "never", "never", 0.0
    return (round(statistics.median(got), 1), round(percentile(got, 0.95), 1),
            len(got) / len(xs))


def run(quick: bool = False, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    t0 = time.monotonic()
    tables = []
    # 1. the bound, looking after every tick
    trials = 400 if quick else 4000
    rows = []
    for cfg in (DEFAULT, LAB):
        for rate in (LIMIT, LIMIT / 2):
            fails = sum(any_look_fails(rng, cfg, 50, rate) for _ in range(trials))
            se = math.sqrt(max(fails, 1) / trials * (1 - fails / trials) / trials)
            rows.append([cfg.name, f"{rate:.1%}", trials, f"{fails / trials:.3%}",
                         f"{3 * se:.3%}", f"{ALPHA_CHECK:.1%}"])
    tables.append(table("false fails looking after every tick for 3 x the deadline (50 rps)",
                        ["config", "true rate (both colours)", "runs", "P(any fail)",
                         "3 s.e.", "bound (check's alpha)"], rows))
    # 2. rollouts through the state machine
    runs = 200 if quick else 1000
    rows = []
    for cfg in (DEFAULT, LAB, LAB120):
        for rps in (5, 50, 500):
            for rate in (LIMIT, LIMIT / 2):
                outs = [rollout(rng, cfg, rps, rate, rate) for _ in range(runs)]
                promoted = [s for o, s in outs if o == "promoted"]
                rows.append([cfg.name, rps, f"{rate:.1%}", runs,
                             f"{len(promoted) / runs:.1%}",
                             f"{sum(o == 'slo' for o, _ in outs) / runs:.2%}",
                             f"{sum(o == 'deadline' for o, _ in outs) / runs:.1%}",
                             round(statistics.median(promoted)) if promoted else "-",
                             round(percentile(promoted, 0.95)) if promoted else "-"])
    tables.append(table("healthy rollouts (new colour's rate = live colour's)",
                        ["config", "rps", "rate", "runs", "promoted", "false fail (slo)",
                         "deadline revert", "promotion s median", "p95"], rows))
    # 2b. bad releases let through, next to healthy ones (the pass and promotion rules)
    cases = ((0.005, 0.005), (LIMIT, LIMIT), (2 * LIMIT, 0.001), (2 * LIMIT, LIMIT),
             (5 * LIMIT, 0.001), (5 * LIMIT, LIMIT))
    rows = []
    for cfg in (DEFAULT, LAB, LAB120):
        for rps in (5, 50, 500):
            row: list[Any] = [cfg.name, rps]
            for rate, live in cases:
                outs = [rollout(rng, cfg, rps, rate, live)[0] for _ in range(runs)]
                row.append(f"{outs.count('promoted') / runs:.1%}")
            rows.append(row)
    tables.append(table(f"promoted (let through) of {runs} rollouts: healthy releases next "
                        "to bad ones at 2x and 5x the 1% limit (new / live colour's rate)",
                        ["config", "rps", *(f"{r:.1%} / {lv:.1%}" for r, lv in cases)], rows))
    # 3. side by side
    reps = 60 if quick else 300
    policies = ("shifter", "shifter-lab", "flagger", "argo-1m", "argo-10s")
    rows = []
    for rps in (5, 50, 500):
        for rate in (0.2, 0.05, 0.02):
            row: list[Any] = [rps, f"{rate:.0%}"]
            for pol in policies:
                r = 20 if rps == 500 and not quick else reps
                med, p95, frac = _med_p95([detect_time(rng, pol, rps, rate, 0.001, 900)
                                           for _ in range(r)])
                row.append(f"{med} / {p95}" + ("" if frac == 1 else f" ({frac:.0%})"))
            row.append(round(information_limit(rate, rps), 1))
            rows.append(row)
    tables.append(table("seconds from the first new-colour request to the revert decision "
                        "(median / p95, share detected within 900 s); 10% weight",
                        ["rps", "errors", *policies, "information limit"], rows))
    rows = []
    for rate, what in ((LIMIT / 2, "half the limit"), (LIMIT, "at the limit"),
                       (0.2, "shared outage (both 20%)")):
        row = [what]
        for pol in policies:
            r = reps if rate < 0.1 else max(20, reps // 5)
            got = [detect_time(rng, pol, 50, rate, rate, 600) for _ in range(r)]
            row.append(f"{sum(g is not None for g in got) / r:.1%}")
        rows.append(row)
    tables.append(table("share of rollouts with a revert decision within 600 s at 10%, 50 rps",
                        ["case", *policies], rows))
    result = {"seed": seed, "quick": quick, "seconds": round(time.monotonic() - t0, 1),
              "tables": tables}
    write_result("sequential", result)
    return result


def half_limit(runs: int, seed: int = 1) -> dict[str, Any]:
    """The target "half the limit at 50 rps: promoted in at least 99.9%, no deadline
    reverts": ``runs`` rollouts of a release at 0.5% (live colour 0.5%) per config, with
    the one-sided 95% lower confidence bound of the promoted share (exact binomial:
    ``(0.05)^(1/runs)`` when all are promoted; 3,000 all-promoted runs show >= 99.9%)."""
    rng = random.Random(seed)
    t0 = time.monotonic()
    rows = []
    for cfg in (DEFAULT, LAB120):
        outs = [rollout(rng, cfg, 50, LIMIT / 2, LIMIT / 2)[0] for _ in range(runs)]
        promoted = outs.count("promoted")
        lower = _lower_bound(promoted, runs)
        rows.append([cfg.name, runs, f"{promoted / runs:.2%}", f"{lower:.3%}",
                     outs.count("deadline"), outs.count("slo")])
    result = {"seed": seed, "runs": runs, "seconds": round(time.monotonic() - t0, 1),
              "tables": [table("half the limit (0.5% on both colours), 50 rps",
                               ["config", "rollouts", "promoted", "95% lower bound",
                                "deadline reverts", "false fails"], rows)]}
    write_result("sequential_half_limit", result)
    return result


def revert_timing(runs: int, seed: int = 1) -> dict[str, Any]:
    """The lab's revert measure by simulation: 5 new-colour requests a second (10% of 50
    rps, Poisson), 20% errors, scrapes every second at a random phase, a tick 0.1 s after
    each scrape (ticks follow the scrapes) reading every request up to the scrape; seconds
    from the first failing request to the fail decision of the absolute test
    (``sequential.log_e_above`` against 1%), at the shipped alpha and the former one."""
    from shifter.analysis.sequential import log_e_above

    t0 = time.monotonic()
    rows = []
    for alpha, what in ((A_ABS, "shipped (3/4 of 0.005)"), (ALPHA_CHECK / 2, "former (1/2)")):
        rng = random.Random(seed)
        times = []
        for _ in range(runs):
            arrivals, t = [], 0.0
            while t < 120:
                t += rng.expovariate(5.0)
                arrivals.append((t, rng.random() < 0.2))
            first = next(a for a, bad in arrivals if bad)
            phase, level = rng.random(), math.log(1 / alpha)
            for k in range(1, 120):
                scrape = k - 1 + phase
                seen = [bad for a, bad in arrivals if a <= scrape]
                if seen and log_e_above([(len(seen), sum(seen))], LIMIT) >= level:
                    times.append(max(0.0, scrape + 0.1 - first))
                    break
        rows.append([what, f"{alpha:.3g}", runs, round(statistics.median(times), 2),
                     round(percentile(times, 0.9), 2)])
    result = {"seed": seed, "runs": runs, "seconds": round(time.monotonic() - t0, 1),
              "tables": [table("simulated lab revert: first failing request -> fail decision "
                               "(s), 20% errors at 10% of 50 rps, scrape and tick every 1 s",
                               ["alpha", "value", "runs", "median", "p90"], rows)]}
    write_result("sequential_revert_timing", result)
    return result


def _lower_bound(successes: int, n: int, alpha: float = 0.05) -> float:
    """Clopper-Pearson one-sided lower bound of a binomial proportion: the ``p`` at which
    ``P(X >= successes) = alpha`` (bisection; the tail summed over the failures in logs)."""
    if successes == 0:
        return 0.0
    failures = n - successes

    def tail(p: float) -> float:  # P(X >= successes | p) = P(failures' count <= failures)
        lq, lp = math.log1p(-p), math.log(p)
        return sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                            + i * lq + (n - i) * lp) for i in range(failures + 1))

    lo, hi = 1e-12, successes / n
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) < alpha else (lo, mid)
    return lo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--half-limit", type=int, default=0, metavar="RUNS",
                    help="only the half-the-limit target, with RUNS rollouts per config")
    ap.add_argument("--revert-timing", type=int, default=0, metavar="RUNS",
                    help="only the simulated lab revert timing, with RUNS rollouts")
    args = ap.parse_args()
    if args.revert_timing:
        print_tables(revert_timing(args.revert_timing, seed=args.seed))
        return
    if args.half_limit:
        print_tables(half_limit(args.half_limit, seed=args.seed))
        return
    print_tables(run(quick=args.quick, seed=args.seed))


if __name__ == "__main__":
    main()
