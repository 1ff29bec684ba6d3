"""Which failed writes may still land, and when the revert looks again."""

import pytest

from shifter.errors import Conflict, Forbidden, KubeError, KubeUnavailable
from shifter.routers.base import Colour
from shifter.writes import RouterWrites, late_write_grace, outcome_unknown


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
