"""The engine over a fake router, fake analysis and a fake clock: no sleeping, no cluster."""

from __future__ import annotations

import pytest

from shifter.analysis.outage import Outage
from shifter.analysis.verdict import CheckResult, Verdict
from shifter.engine import Engine, Interrupt
from shifter.errors import Forbidden, KubeError
from shifter.lease import LockLost
from shifter.plan import make_plan
from shifter.routers.base import Change, Colour, Split, Target
from shifter.state import Phase

TARGET = Target("demo", "shop", "shop-blue", "shop-green")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeRouter:
    supports_partial = True

    def __init__(self, *, fail_revert: int = 0, forbid_set: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.weight = 0
        self.fail_revert = fail_revert
        self.forbid_set = forbid_set

    def objects(self):
        return []

    def check(self) -> None:
        pass

    def query_placeholders(self) -> dict[str, str]:
        return {}

    def read(self) -> Split:
        return Split(Colour.BLUE, self.weight)

    def set_weight(self, new, weight, *, dry_run=False) -> list[Change]:
        if self.forbid_set:
            raise Forbidden("forbidden: cannot patch httproutes/shop", status=403)
        self.calls.append(("set", weight))
        self.weight = weight
        return []

    def promote(self, new, *, dry_run=False) -> list[Change]:
        self.calls.append(("promote", 100))
        return []

    def revert(self, new, *, dry_run=False) -> list[Change]:
        if self.fail_revert:
            self.fail_revert -= 1
            raise KubeError("boom", status=500)
        self.calls.append(("revert", 0))
        self.weight = 0
        return []


class ScriptedAnalyzer:
    """Verdicts by (weight, sample number within the step)."""

    def __init__(self, router: FakeRouter, verdicts) -> None:
        self.router = router
        self.verdicts = verdicts
        self.windows: list[float] = []
        self.outage = Outage(60.0)  # the analyzer's outage tracker (issue 9)

        self.shift = 0.0  # what tick_shift answers (the real one follows the scrapes)

    def new_step(self, weight: int | None = None) -> None:
        pass

    def tick_shift(self, due: float, interval: float) -> float:
        return self.shift

    def state(self) -> dict:
        return {}

    def evaluate(self, window: float):
        self.windows.append(window)
        v = self.verdicts(self.router.weight, window)
        return [CheckResult("error-rate", v, f"{v.value} at {self.router.weight}%", "q", {})]


class Events:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def emit(self, event: str, **fields) -> None:
        self.events.append((event, fields))

    def close(self) -> None:
        pass

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


def engine(verdicts, *, bake=5.0, interval=1.0, deadline=None, router=None):
    clock = Clock()
    router = router or FakeRouter()
    analyzer = ScriptedAnalyzer(router, verdicts)
    events = Events()
    eng = Engine(router=router, analyzer=analyzer, plan=make_plan(
        (10, 50, 100), bake=bake, interval=interval, deadline=deadline),
        target=TARGET, new=Colour.GREEN, reporter=events, clock=clock, sleep=clock.sleep,
        revert_deadline=5.0)
    return eng, router, analyzer, events, clock


def test_healthy_rollout_walks_every_step_and_promotes():
    eng, router, analyzer, events, clock = engine(lambda w, win: Verdict.PASS)
    outcome = eng.run()
    assert outcome.phase is Phase.PROMOTED and outcome.exit_code == 0
    assert router.calls == [("set", 10), ("set", 50), ("set", 100), ("promote", 100)]
    # each step sampled every interval from the weight change until the bake ended
    assert [round(w) for w in analyzer.windows] == [1, 2, 3, 4, 5] * 3
    assert 15.0 <= clock.now - 1000.0 < 16.0


def test_ticks_follow_the_analyzers_shift_after_each_weight_change():
    """The first tick of a step moves by the analyzer's tick_shift (just after a scrape of
    the new colour); the following ones keep the interval, so they stay just after one."""
    eng, router, analyzer, events, clock = engine(lambda w, win: Verdict.PASS)
    analyzer.shift = 0.3
    eng.run()
    assert [round(w, 2) for w in analyzer.windows[:5]] == [1.3, 2.3, 3.3, 4.3, 5.3]
    analyzer2 = engine(lambda w, win: Verdict.PASS)
    analyzer2[2].shift = -0.8  # never earlier than half an interval after the change
    analyzer2[0].run()
    assert [round(w, 2) for w in analyzer2[2].windows[:2]] == [0.5, 1.5]


def test_first_failure_reverts_on_that_tick_with_one_write():
    eng, router, analyzer, events, clock = engine(
        lambda w, win: Verdict.FAIL if w == 50 and win >= 2 else Verdict.PASS)
    outcome = eng.run()
    assert outcome.phase is Phase.ROLLED_BACK and outcome.exit_code == 3
    assert router.calls == [("set", 10), ("set", 50), ("revert", 0)]
    names = events.names()
    i = names.index("revert")
    assert events.events[i - 1][1]["verdict"] == "fail"
    assert names[i + 1] == "reverted"
    assert outcome.revert_seconds is not None


def test_inconclusive_until_the_deadline_reverts():
    eng, router, *_ = engine(lambda w, win: Verdict.INCONCLUSIVE, deadline=8.0)
    outcome = eng.run()
    assert outcome.phase is Phase.ROLLED_BACK
    assert "deadline" in outcome.reason
    assert router.calls == [("set", 10), ("revert", 0)]


def test_a_revert_that_keeps_failing_is_retried_then_reported():
    router = FakeRouter(fail_revert=2)
    eng, router, *_ = engine(lambda w, win: Verdict.FAIL, router=router)
    outcome = eng.run()
    assert outcome.phase is Phase.ROLLED_BACK  # the third attempt went through
    assert router.calls[-1] == ("revert", 0)


def test_a_revert_that_never_succeeds_ends_failed():
    router = FakeRouter(fail_revert=10**6)
    eng, router, *_ = engine(lambda w, win: Verdict.FAIL, router=router)
    outcome = eng.run()
    assert outcome.phase is Phase.FAILED and outcome.exit_code == 5
    assert "FAILED" in outcome.reason and "may still be on the new colour" in outcome.reason


def test_interrupt_reverts_and_exits_4():
    interrupt = Interrupt()
    calls = {"n": 0}

    def verdicts(w, win):
        calls["n"] += 1
        if calls["n"] == 3:
            interrupt.set("SIGTERM")
        return Verdict.INCONCLUSIVE

    eng, router, *_ = engine(verdicts)
    eng.interrupt = interrupt
    outcome = eng.run()
    assert outcome.phase is Phase.ABORTED and outcome.exit_code == 4
    assert router.calls == [("set", 10), ("revert", 0)]


def test_record_for_the_lease_says_where_the_rollout_is():
    eng, *_ = engine(lambda w, win: Verdict.PASS)
    eng.run()
    record = eng.record()
    assert record.phase is Phase.PROMOTED and record.weight == 100
    assert record.new == "green" and record.live == "blue" and record.rollout
    assert record.history and record.history[-1].verdict == "pass"


def test_refused_first_weight_changes_nothing_and_is_invalid_input():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS, router=FakeRouter(forbid_set=True))
    with pytest.raises(Forbidden) as err:
        eng.run()
    assert err.value.exit_code == 2
    assert router.calls == [] and eng.state.phase is Phase.FAILED


def test_refused_weight_after_traffic_moved_reverts():
    router = FakeRouter()
    eng, router, *_ = engine(lambda w, win: Verdict.PASS, router=router)
    original = router.set_weight

    def set_weight(new, weight, *, dry_run=False):
        if weight == 50:
            raise Forbidden("forbidden", status=403)
        return original(new, weight)

    router.set_weight = set_weight
    outcome = eng.run()
    assert outcome.phase is Phase.FAILED
    assert router.calls == [("set", 10), ("revert", 0)]


class LosingLease:
    """A lease whose writes start failing with LockLost after ``ok`` writes."""

    def __init__(self, ok: int) -> None:
        self.ok = ok
        self.writes = 0

    def write(self, state=None, *, release=False, deadline=10.0):
        self.writes += 1
        if self.writes > self.ok:
            raise LockLost("lease shifter-shop was taken over by someone/else")

    def due_for_renewal(self):
        return False

    def held_for(self):
        return 10.0

    def check_held(self, *, deadline=10.0):
        if self.writes >= self.ok:
            raise LockLost("lease shifter-shop was taken over by someone/else")

    def poll(self, *, deadline=10.0):
        return None


def test_a_run_superseded_by_another_stops_without_touching_traffic():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.lease = LosingLease(ok=3)
    with pytest.raises(LockLost) as err:
        eng.run()
    assert err.value.exit_code == 6
    assert router.calls == [("set", 10)]  # no revert: the new holder owns the rollout


class ForbiddenLease(LosingLease):
    def write(self, state=None, *, release=False, deadline=10.0):
        self.writes += 1
        if self.writes > self.ok:
            raise Forbidden("forbidden: cannot update leases/shifter-shop", status=403)


def test_a_lease_that_can_no_longer_be_written_reverts():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.lease = ForbiddenLease(ok=3)
    outcome = eng.run()
    assert outcome.phase is Phase.FAILED and "lease" in outcome.reason
    assert router.calls[-1] == ("revert", 0)


def test_an_unexpected_error_mid_rollout_puts_traffic_back_then_surfaces():
    def verdicts(w, win):
        if w == 50:
            raise ZeroDivisionError("a bug")
        return Verdict.PASS

    eng, router, *_ = engine(verdicts)
    with pytest.raises(ZeroDivisionError):
        eng.run()
    assert router.calls == [("set", 10), ("set", 50), ("revert", 0)]
    assert eng.state.phase is Phase.FAILED


class TakenLease(LosingLease):
    """Writes succeed, but another run holds the lease when the engine checks before a
    router write (the fencing read)."""

    def write(self, state=None, *, release=False, deadline=10.0):
        self.writes += 1

    def check_held(self, *, deadline=10.0):
        if self.writes >= self.ok:
            raise LockLost("lease shifter-shop was taken over by someone/else")


def test_fencing_stops_before_a_router_write_when_the_lease_was_taken():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.lease = TakenLease(ok=4)
    with pytest.raises(LockLost):
        eng.run()
    assert router.calls == [("set", 10)]


def test_a_resumed_paused_rollout_stays_paused():
    eng, router, analyzer, events, clock = engine(lambda w, win: Verdict.PASS)
    eng.interrupt = Interrupt()
    calls = {"n": 0}

    def verdicts(w, win):
        calls["n"] += 1
        if calls["n"] == 12:  # well past the bake: still holding at the resumed step
            assert eng.state.phase is Phase.PAUSED and router.calls == [("set", 50)]
            eng.interrupt.set("SIGTERM")
        return Verdict.PASS

    analyzer.verdicts = verdicts
    outcome = eng.run(start_step=1, resume_phase="paused")
    assert outcome.phase is Phase.ABORTED
    assert router.calls == [("set", 50), ("revert", 0)]


def test_a_resumed_promote_request_is_kept():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.resume_promote = True
    outcome = eng.run(start_step=0, resume_phase="shifting")
    assert outcome.phase is Phase.PROMOTED
    assert router.calls == [("set", 10), ("promote", 100)]


# -- issue 13 --------------------------------------------------------------------------------

class RecordingLease(LosingLease):
    """Writes succeed; records what was written and when, and serves scripted requests."""

    def __init__(self, router=None, requests=()) -> None:
        super().__init__(ok=10**6)
        self.router = router
        self.records = []
        self.requests = list(requests)
        self.valid = 10.0

    def write(self, state=None, *, release=False, deadline=10.0):
        self.writes += 1
        if state is not None:
            self.records.append((state, list(self.router.calls) if self.router else []))

    def held_for(self):
        return self.valid

    def poll(self, *, deadline=10.0):
        return self.requests.pop(0) if self.requests else None


def test_the_revert_write_comes_before_the_record_of_it():
    eng, router, *_ = engine(lambda w, win: Verdict.FAIL)
    eng.lease = lease = RecordingLease(router)
    eng.run()
    reverting = [calls for rec, calls in lease.records if rec.phase is Phase.REVERTING]
    assert reverting and all(("revert", 0) in calls for calls in reverting)


def test_an_unknown_request_changes_nothing_and_is_recorded_as_handled():
    from shifter.record import OperatorRequest

    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.lease = RecordingLease(router, [OperatorRequest(action="abrot", id="t1",
                                                        rollout=eng.rollout_id)])
    outcome = eng.run()
    assert outcome.phase is Phase.PROMOTED and "t1" in eng.handled


def test_a_request_posted_to_another_rollout_is_ignored():
    from shifter.record import OperatorRequest

    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.lease = RecordingLease(router, [OperatorRequest(action="promote-force", id="old",
                                                        rollout="an-earlier-one")])
    outcome = eng.run()
    assert outcome.phase is Phase.PROMOTED
    assert [c for c in router.calls if c[0] == "set"] == [("set", 10), ("set", 50),
                                                          ("set", 100)]


def test_an_expired_own_lease_stops_forward_moves_and_reverts():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.lease = lease = RecordingLease(router)
    lease.valid = -1.0  # the Lease API failed for longer than the lease duration
    outcome = eng.run()
    assert outcome.phase is Phase.FAILED and "lease" in outcome.reason
    assert router.calls == [("set", 10), ("revert", 0)]


def test_a_signal_before_the_first_weight_moves_nothing():
    eng, router, *_ = engine(lambda w, win: Verdict.PASS)
    eng.interrupt.set("SIGTERM")
    outcome = eng.run()
    assert outcome.phase is Phase.ABORTED and outcome.exit_code == 4 and router.calls == []


def test_a_failed_revert_records_weight_unknown_not_zero():
    eng, router, *_ = engine(lambda w, win: Verdict.FAIL, router=FakeRouter(fail_revert=10**6))
    eng.run()
    assert eng.record().weight is None


class LateRouter(FakeRouter):
    """The first set_weight times out; the server applies it after the revert."""

    def __init__(self, clock) -> None:
        super().__init__()
        self.clock = clock
        self.late_at: float | None = None

    def set_weight(self, new, weight, *, dry_run=False):
        if self.late_at is None:
            self.late_at = self.clock.now + 20.0
            from shifter.errors import KubeUnavailable
            raise KubeUnavailable("read timeout")
        raise KubeError("boom", status=500)

    def read(self):
        if self.late_at is not None and self.clock.now >= self.late_at:
            self.weight, self.late_at = 10, float("inf")  # the late write lands once
        return super().read()


def test_a_late_forward_write_is_seen_after_the_grace_and_reverted_again():
    clock = Clock()
    router = LateRouter(clock)
    eng = Engine(router=router, analyzer=ScriptedAnalyzer(router, lambda w, win: Verdict.PASS),
                 plan=make_plan((10, 50, 100), bake=5, interval=1), target=TARGET,
                 new=Colour.GREEN, reporter=Events(), clock=clock, sleep=clock.sleep,
                 revert_deadline=5.0, late_write_grace=30.0)
    start = clock.now
    outcome = eng.run()
    assert outcome.phase is Phase.FAILED
    assert router.calls == [("revert", 0), ("revert", 0)]  # the second undoes the late one
    assert router.weight == 0 and clock.now - start >= 30.0


def test_a_signal_cuts_a_forward_writes_retries_short_and_reverts():
    eng, router, _, _, clock = engine(lambda w, win: Verdict.PASS)
    original = router.set_weight
    attempts = {"n": 0}

    def set_weight(new, weight, *, dry_run=False):
        if weight == 50:
            attempts["n"] += 1
            if attempts["n"] == 2:
                eng.interrupt.set("SIGTERM")
            raise KubeError("injected", status=500)
        return original(new, weight)

    router.set_weight = set_weight
    outcome = eng.run()
    assert outcome.phase is Phase.ABORTED and attempts["n"] == 2  # not 30 s of retries
    assert router.calls == [("set", 10), ("revert", 0)]


def test_a_signal_cuts_prometheus_retries_short():
    from shifter.errors import PrometheusUnavailable

    eng, router, analyzer, _, clock = engine(lambda w, win: Verdict.PASS)
    calls = {"n": 0}

    def evaluate(window):
        calls["n"] += 1
        eng.interrupt.set("SIGTERM")
        raise PrometheusUnavailable("connection refused")

    analyzer.evaluate = evaluate
    outcome = eng.run()
    assert outcome.phase is Phase.ABORTED and calls["n"] == 1


def test_warning_events_are_written_after_the_revert_write_in_order():
    eng, router, *_ = engine(lambda w, win: Verdict.FAIL)

    class Recorder:
        def __init__(self):
            self.seen = []

        def record(self, reason, message, *, warning=False):
            self.seen.append((reason, list(router.calls)))

    eng.events = rec = Recorder()
    eng.run()
    reasons = [r for r, _ in rec.seen]
    assert reasons.index("CheckFailed") < reasons.index("Reverted")
    at_check_failed = next(calls for r, calls in rec.seen if r == "CheckFailed")
    assert ("revert", 0) in at_check_failed  # the router write came first
