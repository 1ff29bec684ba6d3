"""Approval gates and the watch after the promotion: the state machine's new phases, with
time in the events (no sleeping)."""

import pytest

from shifter.analysis.verdict import Verdict
from shifter.errors import ConfigError
from shifter.plan import make_plan
from shifter.state import (
    TRANSITIONS,
    AwaitApproval,
    Broken,
    Done,
    Interrupted,
    Phase,
    Promote,
    Request,
    Revert,
    RevertCause,
    Sample,
    SetWeight,
    Start,
    StartWatch,
    State,
    WeightApplied,
    advance,
    resume,
)

P, F, INC = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE
GATED = make_plan((10, 50, 100), bake=10, interval=1, deadline=30, gates=(100,),
                  approval_timeout=60)
WATCHED = make_plan((10, 100), bake=10, interval=1, deadline=30, watch=30)


def at_step(plan, step, at=0.0):
    s, _ = advance(State(), Start(at, step), plan)
    s, _ = advance(s, WeightApplied(at), plan)
    return s


def at_gate(at=0.0):
    s = at_step(GATED, 1, at)
    s, a = advance(s, Sample(at + 10, P), GATED)
    assert s.phase is Phase.AWAITING_APPROVAL and s.step == 1
    assert a == [AwaitApproval(1, 50, 100)]
    return s


def test_a_gate_holds_the_current_weight_after_the_step_passed():
    s = at_gate()
    s, a = advance(s, Sample(200.0 - 150, P), GATED)  # still within the timeout
    assert s.phase is Phase.AWAITING_APPROVAL and a == []


@pytest.mark.parametrize("action", ["approve", "promote"])
def test_approve_or_promote_answers_the_gate_with_the_next_weight(action):
    s, a = advance(at_gate(), Request(20.0, action), GATED)
    assert s.phase is Phase.SHIFTING and s.step == 2 and a == [SetWeight(2, 100)]
    s, _ = advance(s, WeightApplied(21.0), GATED)
    s, a = advance(s, Sample(31.0, P), GATED)  # the gated step bakes, then promotes
    assert s.phase is Phase.PROMOTING and isinstance(a[0], Promote)


def test_a_failure_at_the_gate_still_reverts_at_once():
    s, a = advance(at_gate(), Sample(15.0, F, "error rate 20%"), GATED)
    assert s.phase is Phase.REVERTING and a == [Revert(RevertCause.SLO, "error rate 20%")]
    s, _ = advance(s, Done(16.0), GATED)
    assert s.phase is Phase.ROLLED_BACK and s.phase.exit_code == 3


def test_an_unanswered_gate_reverts_at_the_timeout_exit_4():
    s = at_gate()
    s, a = advance(s, Sample(69.0, INC), GATED)
    assert s.phase is Phase.AWAITING_APPROVAL
    s, a = advance(s, Sample(70.0, P), GATED)
    assert a == [Revert(RevertCause.APPROVAL_TIMEOUT, "approval timed out")]
    s, _ = advance(s, Done(71.0), GATED)
    assert s.phase is Phase.ABORTED and s.phase.exit_code == 4
    assert s.reason == "approval timed out"


def test_promote_full_at_a_gate_promotes_now_and_force_too():
    s, a = advance(at_gate(), Request(20.0, "promote-full"), GATED)
    assert s.phase is Phase.PROMOTING
    s, a = advance(at_gate(), Request(20.0, "promote-force"), GATED)
    assert s.phase is Phase.PROMOTING


def test_abort_and_signal_at_a_gate_revert():
    s, a = advance(at_gate(), Request(20.0, "abort"), GATED)
    assert s.phase is Phase.REVERTING and a[0].cause is RevertCause.ABORT
    s, a = advance(at_gate(), Interrupted(20.0), GATED)
    assert s.phase is Phase.REVERTING and a[0].cause is RevertCause.SIGNAL


def test_promote_before_a_gate_skips_the_bake_and_answers_the_gate():
    s = at_step(GATED, 1)
    s, a = advance(s, Request(1.0, "promote"), GATED)
    assert s.next_requested and a == []
    s, a = advance(s, Sample(2.0, P), GATED)  # before the bake ended, past the gate
    assert a == [SetWeight(2, 100)] and not s.next_requested


def test_promote_without_a_gate_goes_on_to_the_next_step_only():
    plan = make_plan((10, 50, 100), bake=10, interval=1, deadline=30)
    s, _ = advance(at_step(plan, 0), Request(1.0, "promote"), plan)
    s, a = advance(s, Sample(2.0, P), plan)
    assert a == [SetWeight(1, 50)]


def test_gate_at_the_first_step_is_refused_and_plan_marks_the_gated_step():
    with pytest.raises(ConfigError, match=r"steps\[0\]\.approve"):
        make_plan((10, 100), bake=1, interval=1, gates=(10,))
    assert [s.approve for s in GATED.steps] == [False, False, True]
    # A router that cannot split has one step of 100: nothing to gate before it.
    single = make_plan((10, 100), bake=1, interval=1, gates=(100,), supports_partial=False)
    assert [s.approve for s in single.steps] == [False]


def test_resume_at_a_gate_sets_the_step_again_and_gates_again():
    s, a = resume(Phase.AWAITING_APPROVAL, 1, GATED, now=0.0)
    assert s.phase is Phase.SHIFTING and a == [SetWeight(1, 50)]
    s, _ = advance(s, WeightApplied(0.0), GATED)
    s, a = advance(s, Sample(10.0, P), GATED)
    assert s.phase is Phase.AWAITING_APPROVAL


# -- the watch after the promotion -----------------------------------------------------------

def watching(at=100.0):
    s = at_step(WATCHED, 1)
    s, a = advance(s, Sample(10.0, P), WATCHED)
    assert s.phase is Phase.PROMOTING
    s, a = advance(s, Done(at), WATCHED)
    assert s.phase is Phase.WATCHING and a == [StartWatch(30)]
    assert not s.phase.is_final and s.watch_until == at + 30
    return s


def test_no_watch_promotes_at_once():
    plan = make_plan((10, 100), bake=10, interval=1, deadline=30)
    s, _ = advance(at_step(plan, 1), Sample(10.0, P), plan)
    s, a = advance(s, Done(11.0), plan)
    assert s.phase is Phase.PROMOTED and a == []


def test_a_failure_during_the_watch_flips_traffic_back_exit_3():
    s, a = advance(watching(), Sample(112.0, F, "error rate 20% > 1%"), WATCHED)
    assert s.phase is Phase.REVERTING and a[0].cause is RevertCause.WATCH
    assert a[0].reason == "failed 0.2 min after promotion: error rate 20% > 1%"
    s, _ = advance(s, Done(113.0), WATCHED)
    assert s.phase is Phase.ROLLED_BACK and s.phase.exit_code == 3


def test_the_watch_ends_promoted_after_its_time():
    s, a = advance(watching(), Sample(129.0, INC), WATCHED)
    assert s.phase is Phase.WATCHING
    s, a = advance(s, Sample(130.0, P), WATCHED)
    assert s.phase is Phase.PROMOTED and a == [] and "watched 0.5 min" in s.reason


@pytest.mark.parametrize("event", [Interrupted(105.0), Broken(105.0, "Prometheus gone")])
def test_a_signal_or_an_outage_during_the_watch_leaves_it_promoted(event):
    s, a = advance(watching(), event, WATCHED)
    assert s.phase is Phase.PROMOTED and a == [] and s.phase.exit_code == 0
    assert "cut short" in s.reason


def test_abort_during_the_watch_reverts_other_requests_are_ignored():
    s, a = advance(watching(), Request(105.0, "abort"), WATCHED)
    assert s.phase is Phase.REVERTING and a[0].cause is RevertCause.ABORT
    s, a = advance(watching(), Request(105.0, "pause"), WATCHED)
    assert s.phase is Phase.WATCHING and a == []


def test_the_watch_respects_the_failure_limits():
    plan = make_plan((10, 100), bake=10, interval=1, deadline=30, watch=30,
                     max_consecutive_failures=2, max_total_failures=2)
    s, _ = advance(at_step(plan, 1), Sample(10.0, P), plan)
    s, _ = advance(s, Done(100.0), plan)
    s, a = advance(s, Sample(101.0, F), plan)
    assert s.phase is Phase.WATCHING
    s, a = advance(s, Sample(102.0, F), plan)
    assert s.phase is Phase.REVERTING


def test_new_phases_are_in_the_table_and_undone_is_final_exit_0():
    assert (Phase.AWAITING_APPROVAL, Sample) in TRANSITIONS
    assert (Phase.WATCHING, Sample) in TRANSITIONS
    assert Phase.UNDONE.is_final and Phase.UNDONE.exit_code == 0
    assert Phase.AWAITING_APPROVAL.is_active and not Phase.WATCHING.is_active


# -- a watch resumed after the watching run died ----------------------------------------------

def resumed_watch(now, **kw):
    """The next run, at ``now``, of a rollout promoted at 100 with a 30 s watch."""
    return resume(Phase.WATCHING, 1, WATCHED, now=now, promoted_at=100.0,
                  reason="every step passed", **kw)


def test_a_watch_with_time_left_is_resumed_for_the_rest_of_it():
    s, a = resumed_watch(112.0, watch_until=130.0)
    assert s.phase is Phase.WATCHING and s.step == 1
    assert a == [StartWatch(18.0, resumed=True)]  # no SetWeight, no Promote
    assert (s.promoted_at, s.since, s.watch_until) == (100.0, 100.0, 130.0)
    assert s.consecutive_failures == s.total_failures == 0
    s, a = advance(s, Sample(113.0, P), WATCHED)  # the window runs from the promote write
    assert s.phase is Phase.WATCHING and a == [] and s.elapsed(113.0) == 13.0
    s, a = advance(s, Sample(130.0, P), WATCHED)
    assert s.phase is Phase.PROMOTED and a == [] and s.phase.exit_code == 0
    assert s.reason == "every step passed; watched 0.5 min after the promotion"


def test_the_recorded_end_of_the_watch_decides_else_the_promotion_plus_the_watch():
    s, a = resumed_watch(112.0, watch_until=125.0)  # recorded: it wins over the plan's 30 s
    assert s.watch_until == 125.0 and a == [StartWatch(13.0, resumed=True)]
    s, a = resumed_watch(112.0)  # not recorded: promoted_at + watch
    assert s.watch_until == 130.0 and a == [StartWatch(18.0, resumed=True)]


def test_a_failure_during_a_resumed_watch_flips_traffic_back_exit_3():
    s, _ = resumed_watch(112.0, watch_until=130.0)
    s, a = advance(s, Sample(115.0, F, "error rate 20% > 1%"), WATCHED)
    assert s.phase is Phase.REVERTING
    assert a == [Revert(RevertCause.WATCH, "failed 0.2 min after promotion: error rate 20% "
                                           "> 1%")]
    s, _ = advance(s, Done(116.0), WATCHED)
    assert s.phase is Phase.ROLLED_BACK and s.phase.exit_code == 3


@pytest.mark.parametrize("event", [Interrupted(115.0), Broken(115.0, "Prometheus gone")])
def test_a_signal_during_a_resumed_watch_leaves_it_promoted(event):
    s, _ = resumed_watch(112.0, watch_until=130.0)
    s, a = advance(s, event, WATCHED)
    assert s.phase is Phase.PROMOTED and a == [] and s.phase.exit_code == 0
    assert "cut short" in s.reason and s.reason.startswith("every step passed")


def test_abort_during_a_resumed_watch_reverts_exit_4():
    s, _ = resumed_watch(112.0, watch_until=130.0)
    s, a = advance(s, Request(115.0, "abort"), WATCHED)
    assert a[0].cause is RevertCause.ABORT
    s, _ = advance(s, Done(116.0), WATCHED)
    assert s.phase is Phase.ABORTED and s.phase.exit_code == 4


@pytest.mark.parametrize("now", [130.0, 500.0])
def test_a_watch_whose_time_is_over_finishes_promoted_exit_0(now):
    s, a = resumed_watch(now, watch_until=130.0)
    assert s.phase is Phase.PROMOTED and a == [] and s.phase.exit_code == 0
    assert s.promoted_at == 100.0  # the aftercare is due from the promote write
    assert s.reason.startswith("every step passed; the watch after the promotion ran out")


def test_a_resumed_watch_never_starts_before_its_promotion():
    s, a = resume(Phase.WATCHING, 1, WATCHED, now=50.0, promoted_at=60.0)  # clocks skewed
    assert s.promoted_at == s.since == 50.0 and a == [StartWatch(30.0, resumed=True)]
    s, a = resume(Phase.WATCHING, 1, WATCHED, now=50.0)  # nothing recorded: a whole watch
    assert s.phase is Phase.WATCHING and s.watch_until == 80.0
    assert s.reason == "every step passed"


def test_a_watch_whose_traffic_moved_back_finishes_the_revert_it_was_in():
    # the watch's revert writes the router before its record: 100% read back, less now
    s, a = resumed_watch(112.0, watch_until=130.0, moved_back=True)
    assert s.phase is Phase.REVERTING and isinstance(a[0], Revert)
    assert not any(isinstance(x, SetWeight | Promote | StartWatch) for x in a)
