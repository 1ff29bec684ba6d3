"""A watch after the promotion resumed by the next run (the watching run was killed): the
engine over a fake router and clock carries out what ``state.resume`` decides; it never sets
a weight or promotes again, and judges the rest of the watch from the promote write on."""

from __future__ import annotations

import time

from shifter.analysis.verdict import Verdict
from shifter.engine import Engine
from shifter.plan import make_plan
from shifter.routers.base import Colour
from shifter.state import Phase, State
from tests.unit.test_engine import TARGET, Clock, Events, FakeRouter, ScriptedAnalyzer


class WatchingAnalyzer(ScriptedAnalyzer):
    def __init__(self, router, verdicts) -> None:
        super().__init__(router, verdicts)
        self.watches = 0

    def start_watch(self) -> None:
        self.watches += 1


def resumed(verdicts, *, promoted_ago: float, left: float | None):
    """An engine resuming a rollout promoted ``promoted_ago`` s ago, its recorded watch
    ending in ``left`` s (None: not recorded; the plan's 30 s watch then counts)."""
    clock = Clock()
    router = FakeRouter()
    router.weight = 100  # promoted: all traffic on green
    analyzer = WatchingAnalyzer(router, verdicts)
    events = Events()
    eng = Engine(router=router, analyzer=analyzer, plan=make_plan(
        (50, 100), bake=1.0, interval=1.0, watch=30.0), target=TARGET, new=Colour.GREEN,
        reporter=events, clock=clock, sleep=clock.sleep, revert_deadline=5.0,
        traffic_moved=True, weight_read=100)
    wall = time.time()
    eng.resumed_watch = (wall - promoted_ago, None if left is None else wall + left,
                         "every step passed")
    finals: list[State] = []

    def on_final(state: State) -> None:  # the aftercare hook: called once, at the end
        finals.append(state)

    eng.on_final = on_final
    return eng, router, analyzer, events, clock, finals


def run(eng):
    return eng.run(start_step=1, resume_phase="watching")


def test_the_rest_of_the_watch_is_judged_and_ends_promoted_with_no_write():
    eng, router, analyzer, events, clock, finals = resumed(
        lambda w, win: Verdict.PASS, promoted_ago=12.0, left=18.0)
    outcome = run(eng)
    assert outcome.phase is Phase.PROMOTED and outcome.exit_code == 0
    assert router.calls == []  # no step, no promote, no revert
    assert analyzer.watches == 1
    assert 12.5 <= analyzer.windows[0] <= 14.5  # the window starts at the promote write
    assert 16.0 <= clock.now - 1000.0 <= 20.0  # the time left, not a whole watch
    watch = [f for e, f in events.events if e == "watch"]
    assert len(watch) == 1 and watch[0]["resumed"] is True
    assert abs(watch[0]["seconds"] - 18.0) < 0.5
    assert "step" not in events.names() and "promote" not in events.names()
    assert len(finals) == 1 and finals[0].phase is Phase.PROMOTED


def test_a_failure_in_the_resumed_watch_flips_traffic_back_exit_3():
    eng, router, _a, events, _c, _f = resumed(
        lambda w, win: Verdict.FAIL if win > 15 else Verdict.PASS, promoted_ago=12.0,
        left=18.0)
    outcome = run(eng)
    assert outcome.phase is Phase.ROLLED_BACK and outcome.exit_code == 3
    assert router.calls == [("revert", 0)]
    assert outcome.reason.startswith("failed 0.3 min after promotion: ")
    assert [f["cause"] for e, f in events.events if e == "revert"] == ["watch"]


def test_a_signal_in_the_resumed_watch_leaves_it_promoted_exit_0():
    eng, router, _a, _e, clock, _f = resumed(
        lambda w, win: Verdict.PASS, promoted_ago=12.0, left=18.0)
    ticks = 0

    def sleep(seconds: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 30:
            eng.interrupt.set("SIGTERM")
        clock.sleep(seconds)

    eng.sleep = sleep
    outcome = run(eng)
    assert outcome.phase is Phase.PROMOTED and outcome.exit_code == 0
    assert "cut short" in outcome.reason and router.calls == []


def test_a_watch_over_before_the_next_run_finishes_promoted_at_once():
    eng, router, analyzer, events, clock, finals = resumed(
        lambda w, win: Verdict.FAIL, promoted_ago=40.0, left=-10.0)
    outcome = run(eng)
    assert outcome.phase is Phase.PROMOTED and outcome.exit_code == 0
    assert router.calls == [] and analyzer.windows == [] and clock.now == 1000.0
    assert "ran out while no run was watching" in outcome.reason
    # the aftercare hook sees the original promotion time (a scale-down due from it)
    assert len(finals) == 1
    assert abs(eng._wall(finals[0].promoted_at) - (time.time() - 40.0)) < 0.5


def test_without_a_recorded_end_the_watch_runs_to_promotion_plus_watch():
    eng, _r, _a, _e, clock, _f = resumed(lambda w, win: Verdict.PASS, promoted_ago=25.0,
                                         left=None)
    assert run(eng).phase is Phase.PROMOTED
    assert 4.0 <= clock.now - 1000.0 <= 7.0


def test_the_text_line_says_the_watch_was_resumed():
    import io

    from shifter.report import TextReporter

    out = io.StringIO()
    r = TextReporter(out)
    r.emit("watch", new="green", seconds=30.0, resumed=False)
    r.emit("watch", new="green", seconds=17.5, resumed=True)
    first, second = out.getvalue().splitlines()[-2:]
    assert "promoted; watching green for 30s" in first
    assert "promoted; resumed the watch of green for 17.5s" in second
