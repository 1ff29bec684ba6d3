"""Aftercare decisions (pure): which colour is scaled down when, and what undo restores."""

import pytest

from shifter import aftercare
from shifter.config import build_config
from shifter.errors import ConfigError
from shifter.record import Aftercare, Record
from shifter.routers.base import Colour
from shifter.state import Phase

GREEN = Colour("green")


def cfg(**kw):
    return build_config({"release": "shop", **kw})


def test_promoted_scales_the_old_colour_down_after_the_delay_from_the_promotion():
    c = cfg(after_promotion={"watch": "10s", "scale_down": "30m"})
    care = aftercare.plan(c, Phase.PROMOTED, GREEN, promoted_at=1000.0, ended_at=1010.0,
                          moved=True)
    assert care == Aftercare(colour="blue", deployment="shop-blue", due=2800.0, to=0)
    assert not aftercare.is_due(care, 2799.0) and aftercare.is_due(care, 2800.0)
    assert not aftercare.is_due(care.model_copy(update={"done": True}), 9999.0)


def test_scale_down_due_within_the_watch_is_due_when_the_run_ends():
    c = cfg(after_promotion={"watch": "10s", "scale_down": "5s", "scale_down_to": 1})
    care = aftercare.plan(c, Phase.PROMOTED, GREEN, promoted_at=1000.0, ended_at=1010.0,
                          moved=True)
    assert care is not None and care.to == 1 and aftercare.is_due(care, 1010.0)


def test_after_revert_scales_the_reverted_new_colour_only_when_traffic_moved():
    c = cfg(after_revert={"scale_down": "10m"}, deployments={"green": "shop-v2"})
    care = aftercare.plan(c, Phase.ROLLED_BACK, GREEN, promoted_at=None, ended_at=50.0,
                          moved=True)
    assert care == Aftercare(colour="green", deployment="shop-v2", due=650.0, to=0)
    assert aftercare.plan(c, Phase.ABORTED, GREEN, promoted_at=None, ended_at=50.0,
                          moved=False) is None


@pytest.mark.parametrize("phase", [Phase.PROMOTED, Phase.FAILED, Phase.HELD])
def test_no_aftercare_configured_or_not_a_phase_that_has_any(phase):
    assert aftercare.plan(cfg(), phase, GREEN, promoted_at=1.0, ended_at=2.0,
                          moved=True) is None
    c = cfg(after_revert={"scale_down": "1m"})
    if phase is not Phase.PROMOTED:
        assert aftercare.plan(c, phase, GREEN, promoted_at=1.0, ended_at=2.0,
                              moved=True) is None


def test_undo_restores_the_recorded_count_else_the_live_colours():
    care = Aftercare(colour="blue", deployment="shop-blue", due=1.0, replicas=3, done=True)
    assert aftercare.restore_count(care, Colour("blue"), 2) == 3
    assert aftercare.restore_count(care, Colour("green"), 2) == 2
    assert aftercare.restore_count(None, Colour("blue"), 0) == 1


def test_the_record_round_trips_aftercare_and_the_new_fields():
    rec = Record(phase=Phase.UNDONE, watch_until=5.0, deployments={"blue": "b"},
                 aftercare=Aftercare(colour="blue", deployment="b", due=2.0, replicas=2))
    again = Record.model_validate_json(rec.to_json())
    assert again == rec.model_copy(update={"version": again.version})


def test_config_steps_with_gates_and_the_flag():
    c = cfg(steps=[10, {"weight": 50, "approve": True}, 100])
    assert c.steps == (10, 50, 100) and c.gated_weights == (50,)
    assert cfg(approve_before_promote=True).gated_weights == (100,)
    with pytest.raises(ConfigError, match=r"steps\[1\]"):
        cfg(steps=[10, {"weight": 50, "aprove": True}, 100])
    with pytest.raises(ConfigError, match=r"steps\[0\]\.approve"):
        cfg(steps=[{"weight": 10, "approve": True}, 100])
    with pytest.raises(ConfigError, match="after_promotion.watch"):
        cfg(after_promotion={"watch": "-1s"})
