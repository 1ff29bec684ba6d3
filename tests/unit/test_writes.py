"""Which failed writes may still land, and when the revert looks again."""

import pytest

from shifter.errors import Conflict, Forbidden, KubeError, KubeUnavailable
from shifter.routers.base import Colour
from shifter.writes import (
    LATE_WRITE_FLOOR,
    LATE_WRITE_MARGIN,
    RouterWrites,
    WriteTimeouts,
    late_write_grace,
    outcome_unknown,
)


@pytest.mark.parametrize("exc,unknown", [
    (KubeUnavailable("read timeout"), True),
    (KubeError("gateway timeout", status=504), True),
    (KubeError("internal", status=500), True),
    (KubeError("connection reset", status=0), True),
    (Conflict("modified", status=409), False),  # refused: never applied
    (Forbidden("no", status=403), False),
    (KubeError("invalid", status=422), False),
    (KubeError("throttled", status=429), False),
])
def test_which_failures_may_still_be_applied(exc, unknown):
    assert outcome_unknown(exc) is unknown


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_only_an_unknown_outcome_is_remembered_with_when_it_was_sent():
    clock = Clock()
    writes = RouterWrites(router=None, new=Colour.GREEN, clock=clock, sleep=clock.sleep)
    answers = iter([Conflict("x", status=409), KubeUnavailable("timeout"), None])

    def write():
        clock.now += 1.0
        err = next(answers)
        if err is not None:
            raise err

    writes.forward(write, "set weight")
    assert writes.uncertain_at is not None and 1.0 <= writes.uncertain_at < 3.0


def test_nothing_to_undo_without_an_uncertain_write():
    writes = RouterWrites(router=None, new=Colour.GREEN)
    assert writes.undo_late_writes(lambda n, e: None, lambda: None) is None


def test_grace_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHIFTER_LATE_WRITE_GRACE", "5")
    assert late_write_grace() == 5.0
    monkeypatch.setenv("SHIFTER_LATE_WRITE_GRACE", "soon")
    assert late_write_grace() == 65.0


# -- the deadlines built on the client's request timeout (--request-timeout) ----------------

def test_the_defaults_are_the_old_fixed_deadlines(monkeypatch):
    monkeypatch.delenv("SHIFTER_LATE_WRITE_GRACE", raising=False)
    t = WriteTimeouts()
    assert (t.request, t.forward, t.promote, t.revert, t.late_write_grace) == (
        10.0, 30.0, 60.0, 60.0, 65.0)


def test_deadlines_scale_with_the_request_timeout(monkeypatch):
    monkeypatch.delenv("SHIFTER_LATE_WRITE_GRACE", raising=False)
    t = WriteTimeouts(2.0)
    assert (t.forward, t.promote, t.revert) == (6.0, 12.0, 12.0)


def test_the_late_write_grace_outlasts_the_servers_timeout_whatever_the_clients(monkeypatch):
    """The server's own request timeout (kube-apiserver's --request-timeout, 60 s) does not
    shrink with the client's: a short client timeout keeps the floor; a long one (a server
    known to work longer) adds the margin."""
    monkeypatch.delenv("SHIFTER_LATE_WRITE_GRACE", raising=False)
    assert WriteTimeouts(1.0).late_write_grace == LATE_WRITE_FLOOR > 60.0
    assert WriteTimeouts(120.0).late_write_grace == 120.0 + LATE_WRITE_MARGIN
    monkeypatch.setenv("SHIFTER_LATE_WRITE_GRACE", "9")
    assert WriteTimeouts(2.0).late_write_grace == 9.0  # set outright (a lab's server)


def test_router_writes_take_their_deadlines_from_the_timeouts(monkeypatch):
    monkeypatch.delenv("SHIFTER_LATE_WRITE_GRACE", raising=False)
    clock = Clock()
    writes = RouterWrites(router=None, new=Colour.GREEN, clock=clock, sleep=clock.sleep,
                          timeouts=WriteTimeouts(2.0))
    assert writes.revert_deadline == 12.0 and writes.late_write_grace == LATE_WRITE_FLOOR

    def write():
        clock.now += 2.0  # each attempt times out after the request timeout
        raise KubeUnavailable("read timeout")

    with pytest.raises(KubeUnavailable):
        writes.forward(write, "set weight")
    assert 6.0 <= clock.now < 10.0  # given up after about 3 request timeouts, not 30 s


def test_the_engine_passes_its_timeouts_to_the_writes(monkeypatch):
    monkeypatch.delenv("SHIFTER_LATE_WRITE_GRACE", raising=False)
    from shifter.engine import Engine
    from shifter.plan import make_plan

    class NoObjects:
        def objects(self):
            return []

    plan = make_plan((10, 100), bake=1, interval=1, deadline=10, supports_partial=True)
    eng = Engine(router=NoObjects(), analyzer=None, plan=plan, target=None, new=Colour.GREEN,
                 reporter=None, timeouts=WriteTimeouts(3.0))
    assert eng._writes.revert_deadline == 18.0 and eng._writes.timeouts.forward == 9.0
    pinned = Engine(router=NoObjects(), analyzer=None, plan=plan, target=None, new=Colour.GREEN,
                    reporter=None, revert_deadline=5.0, late_write_grace=1.0)
    assert pinned._writes.revert_deadline == 5.0 and pinned._writes.late_write_grace == 1.0
