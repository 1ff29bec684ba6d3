"""The rollout state machine: every transition, with time in the events (no sleeping)."""

import pytest

from shifter.analysis.verdict import Verdict
from shifter.plan import make_plan
from shifter.state import (
    TRANSITIONS,
    Broken,
    Done,
    IllegalTransition,
    Interrupted,
    Phase,
    Promote,
    Release,
    Request,
    Revert,
    RevertCause,
    Sample,
    SetWeight,
    Start,
    State,
    WeightApplied,
    WeightFailed,
    advance,
    resume,
)

PLAN = make_plan((10, 50, 100), bake=10, interval=1, deadline=30)
P, F, INC = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE


def started(step=0, at=0.0):
    s, actions = advance(State(), Start(at, step), PLAN)
    assert actions == [SetWeight(step, PLAN.steps[step].weight)]
    s, actions = advance(s, WeightApplied(at), PLAN)
    assert actions == []
    return s


def test_start_sets_the_first_weight():
    s, actions = advance(State(), Start(0.0), PLAN)
    assert s.phase is Phase.SHIFTING and s.step == 0 and s.since is None
    assert actions == [SetWeight(0, 10)]


def test_start_at_a_recorded_step_never_jumps_ahead():
    s, actions = advance(State(), Start(0.0, step=1), PLAN)
    assert actions == [SetWeight(1, 50)] and s.step == 1


def test_start_beyond_the_plan_is_illegal():
    with pytest.raises(IllegalTransition):
        advance(State(), Start(0.0, step=3), PLAN)


def test_samples_before_the_weight_is_confirmed_are_ignored():
    s, _ = advance(State(), Start(0.0), PLAN)
    s2, actions = advance(s, Sample(5.0, F), PLAN)
    assert s2 == s and actions == []


def test_pass_before_bake_waits_then_advances():
    s = started()
    s, actions = advance(s, Sample(5.0, P), PLAN)
    assert actions == [] and s.phase is Phase.SHIFTING
    s, actions = advance(s, Sample(10.0, P), PLAN)
    assert actions == [SetWeight(1, 50)] and s.step == 1 and s.since is None


def test_inconclusive_after_bake_keeps_waiting_until_deadline():
    s = started()
    s, actions = advance(s, Sample(12.0, INC, "too few requests"), PLAN)
    assert actions == []
    s, actions = advance(s, Sample(30.0, INC, "too few requests"), PLAN)
    assert s.phase is Phase.REVERTING and s.revert_cause is RevertCause.DEADLINE
    assert isinstance(actions[0], Revert) and "too few requests" in actions[0].reason


def test_first_fail_reverts_by_default():
    s = started()
    s, actions = advance(s, Sample(1.0, F, "error rate 20%"), PLAN)
    assert s.phase is Phase.REVERTING
    assert actions == [Revert(RevertCause.SLO, "error rate 20%")]


def test_consecutive_and_total_limits():
    plan = make_plan((10, 100), bake=10, interval=1, deadline=60,
                     max_consecutive_failures=2, max_total_failures=3)
    s, _ = advance(State(), Start(0.0), plan)
    s, _ = advance(s, WeightApplied(0.0), plan)
    s, a = advance(s, Sample(1, F), plan)
    assert a == [] and s.consecutive_failures == 1
    s, a = advance(s, Sample(2, P), plan)
    assert a == [] and s.consecutive_failures == 0 and s.total_failures == 1
    s, a = advance(s, Sample(3, F), plan)
    assert a == []
    s, a = advance(s, Sample(4, INC), plan)
    s, a = advance(s, Sample(5, F), plan)  # third in total
    assert s.phase is Phase.REVERTING and isinstance(a[0], Revert)


def test_two_in_a_row_hit_the_consecutive_limit():
    plan = make_plan((10, 100), bake=10, interval=1, max_consecutive_failures=2,
                     max_total_failures=5)
    s, _ = advance(State(), Start(0.0), plan)
    s, _ = advance(s, WeightApplied(0.0), plan)
    s, _ = advance(s, Sample(1, F), plan)
    s, a = advance(s, Sample(2, F), plan)
    assert s.phase is Phase.REVERTING


def test_last_step_pass_promotes_then_done():
    s = started(step=2)
    s, actions = advance(s, Sample(10.0, P), PLAN)
    assert s.phase is Phase.PROMOTING and isinstance(actions[0], Promote)
    s, actions = advance(s, Done(11.0), PLAN)
    assert s.phase is Phase.PROMOTED and s.phase.is_final and s.phase.exit_code == 0


def test_revert_done_gives_final_phase_by_cause():
    for cause_event, final in [
        (Sample(1.0, F), Phase.ROLLED_BACK),
        (Request(1.0, "abort"), Phase.ABORTED),
        (Interrupted(1.0), Phase.ABORTED),
        (Broken(1.0, "api down"), Phase.FAILED),
    ]:
        s, _ = advance(started(), cause_event, PLAN)
        assert s.phase is Phase.REVERTING
        s, _ = advance(s, Done(2.0), PLAN)
        assert s.phase is final
    assert Phase.ROLLED_BACK.exit_code == 3 and Phase.ABORTED.exit_code == 4
    assert Phase.FAILED.exit_code == 5


def test_pause_holds_through_bake_and_deadline_but_fail_still_reverts():
    s = started()
    s, _ = advance(s, Request(2.0, "pause"), PLAN)
    assert s.phase is Phase.PAUSED and s.phase.is_active
    s, a = advance(s, Sample(50.0, P), PLAN)  # past bake and deadline: held
    assert a == [] and s.phase is Phase.PAUSED
    s, a = advance(s, Sample(51.0, F), PLAN)
    assert s.phase is Phase.REVERTING


def test_resume_does_not_count_paused_time():
    s = started()
    s, _ = advance(s, Request(2.0, "pause"), PLAN)
    s, _ = advance(s, Request(40.0, "resume"), PLAN)
    assert s.phase is Phase.SHIFTING and s.paused_for == 38.0
    assert s.elapsed(45.0) == 7.0
    s, a = advance(s, Sample(45.0, P), PLAN)
    assert a == []  # bake (10 s) not yet over
    s, a = advance(s, Sample(48.0, P), PLAN)
    assert a == [SetWeight(1, 50)]


def test_pause_twice_and_resume_when_not_paused_are_harmless():
    s = started()
    s, _ = advance(s, Request(1.0, "pause"), PLAN)
    s2, a = advance(s, Request(2.0, "pause"), PLAN)
    assert s2 == s and a == []
    s3, a = advance(started(), Request(1.0, "resume"), PLAN)
    assert s3.phase is Phase.SHIFTING and a == []


def test_promote_full_request_waits_for_a_pass_then_skips_remaining_steps():
    s = started()
    s, a = advance(s, Request(1.0, "promote-full"), PLAN)
    assert a == [] and s.promote_requested
    s, a = advance(s, Sample(2.0, INC), PLAN)
    assert a == []
    s, a = advance(s, Sample(3.0, P), PLAN)  # before bake ends: still promotes
    assert s.phase is Phase.PROMOTING and isinstance(a[0], Promote)


def test_promote_request_still_reverts_on_fail():
    s = started()
    s, _ = advance(s, Request(1.0, "promote-full"), PLAN)
    s, a = advance(s, Sample(2.0, F), PLAN)
    assert s.phase is Phase.REVERTING


def test_forced_promote_is_immediate():
    s, a = advance(started(), Request(1.0, "promote-force"), PLAN)
    assert s.phase is Phase.PROMOTING and "forced" in a[0].reason


def test_interrupt_with_hold_releases_without_revert():
    s, a = advance(started(), Interrupted(1.0, hold=True), PLAN)
    assert s.phase is Phase.HELD and s.phase.exit_code == 4
    assert len(a) == 1 and isinstance(a[0], Release)


def test_second_interrupt_while_reverting_does_not_stop_the_revert():
    s, _ = advance(started(), Interrupted(1.0), PLAN)
    s2, a = advance(s, Interrupted(1.5), PLAN)
    assert s2 == s and a == []


def test_requests_and_samples_while_promoting_are_ignored():
    s, _ = advance(started(step=2), Sample(10.0, P), PLAN)
    for e in (Sample(11.0, F), Request(11.0, "abort"), Interrupted(11.0)):
        s2, a = advance(s, e, PLAN)
        assert s2 == s and a == []


def test_failed_revert_or_promote_ends_failed():
    s, _ = advance(started(), Sample(1.0, F), PLAN)
    s, a = advance(s, Broken(2.0, "revert failed"), PLAN)
    assert s.phase is Phase.FAILED and a == []
    s, _ = advance(started(step=2), Sample(10.0, P), PLAN)
    s, a = advance(s, Broken(11.0, "promote failed"), PLAN)
    assert s.phase is Phase.FAILED


def test_pending_events():
    s, a = advance(State(), Interrupted(0.0), PLAN)
    assert s.phase is Phase.ABORTED and a == []
    s, a = advance(State(), Request(0.0, "abort"), PLAN)
    assert s.phase is Phase.ABORTED
    s, a = advance(State(), Request(0.0, "pause"), PLAN)
    assert s.phase is Phase.PENDING
    s, a = advance(State(), Broken(0.0, "x"), PLAN)
    assert s.phase is Phase.FAILED


def test_unknown_request_changes_nothing():
    # a typo in `kubectl annotate` must never revert a rollout (issue 13, defect 8); the
    # engine warns and records an Event
    s = started()
    assert advance(s, Request(1.0, "explode"), PLAN) == (s, [])


def test_a_refused_first_weight_fails_without_a_revert():
    s, _ = advance(State(), Start(0.0), PLAN)
    s, a = advance(s, WeightFailed(1.0, "forbidden", refused=True, moved=False), PLAN)
    assert s.phase is Phase.FAILED and a == []


@pytest.mark.parametrize("refused,moved", [(True, True), (False, False), (False, True)])
def test_a_weight_that_could_not_be_set_reverts(refused, moved):
    s, _ = advance(State(), Start(0.0), PLAN)
    s, a = advance(s, WeightFailed(1.0, "timeout", refused=refused, moved=moved), PLAN)
    assert s.phase is Phase.REVERTING and a == [Revert(RevertCause.ERROR, "timeout")]


def test_resume_finishes_a_promotion_never_reverts_it():
    s, a = resume(Phase.PROMOTING, 2, PLAN, now=5.0)
    assert s.phase is Phase.PROMOTING and [type(x) for x in a] == [Promote]
    s, a = advance(s, Done(6.0), PLAN)
    assert s.phase is Phase.PROMOTED and a == []


def test_resume_finishes_a_revert_with_its_cause():
    s, a = resume(Phase.REVERTING, 1, PLAN, now=5.0, cause=RevertCause.SLO)
    assert a == [Revert(RevertCause.SLO, s.reason)]
    assert advance(s, Done(6.0), PLAN)[0].phase is Phase.ROLLED_BACK


@pytest.mark.parametrize("phase", [Phase.PENDING, Phase.SHIFTING, Phase.HELD])
def test_resume_sets_the_recorded_step_again(phase):
    s, a = resume(phase, 1, PLAN, now=5.0)
    assert s.phase is Phase.SHIFTING and a == [SetWeight(1, 50)]


def test_resume_keeps_a_pause_and_a_pending_promote():
    s, a = resume(Phase.PAUSED, 0, PLAN, now=5.0, promote_requested=True)
    assert s.phase is Phase.PAUSED and s.promote_requested and a == [SetWeight(0, 10)]
    s, _ = advance(s, WeightApplied(5.0), PLAN)
    s, a = advance(s, Sample(100.0, P), PLAN)
    assert a == []  # paused: holds


@pytest.mark.parametrize("phase", [Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED,
                                   Phase.FAILED])
def test_a_finished_rollout_is_not_resumed(phase):
    with pytest.raises(IllegalTransition):
        resume(phase, 0, PLAN, now=0.0)


@pytest.mark.parametrize("phase", [p for p in Phase if p.is_final])
def test_final_phases_accept_nothing(phase):
    assert not any(key[0] is phase for key in TRANSITIONS)
    with pytest.raises(IllegalTransition):
        advance(State(phase=phase), Sample(0.0, P), PLAN)


def test_every_transition_in_the_table_is_exercised_somewhere():
    # A guard against table entries nobody thought about: each key has a legal handler.
    for (phase, event_type), handler in TRANSITIONS.items():
        assert callable(handler), (phase, event_type)


@pytest.mark.parametrize("phase", [Phase.SHIFTING, Phase.PAUSED, Phase.HELD])
def test_a_revert_begun_before_a_crash_is_finished_not_undone(phase):
    # the revert's router write comes before its record: traffic found back on the old
    # colour while the record read some on the new one means a revert had started
    s, a = resume(phase, 1, PLAN, now=5.0, moved_back=True)
    assert s.phase is Phase.REVERTING and [type(x) for x in a] == [Revert]
    assert advance(s, Done(6.0), PLAN)[0].phase is Phase.FAILED


def test_moved_back_never_turns_a_promotion_into_a_revert():
    s, a = resume(Phase.PROMOTING, 2, PLAN, now=5.0, moved_back=True)
    assert s.phase is Phase.PROMOTING
