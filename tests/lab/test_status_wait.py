"""``shifter status --wait`` blocks until the rollout is final and exits with its exit code
(how a CI job waits on a rollout that a Job or a Helm hook runs)."""

from __future__ import annotations

import pytest

from tests.lab.cli import STRICT, Running, config, shifter, write_config

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("lab", ["nginx"], indirect=True)
def test_status_wait_returns_the_exit_code_of_a_rollout_that_rolls_back(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router, bake="20s", step_deadline="60s",
                                         analysis=STRICT))
    run = Running(lab, "run", "shop", "-f", str(path), log_dir=tmp_path)
    try:
        step = run.wait_for_event(lambda e: e.get("event") == "step")
        assert step["step"] == 1
        lab.fault(step["new"], error_rate=0.3)
        waited = shifter(lab, "status", "shop", "-n", lab.namespace, "--wait",
                         "--timeout", "90s", timeout=120)
        result = run.wait(timeout=60)
    finally:
        run.kill()
    assert result.code == 3, result.stderr
    assert waited.code == 3, waited.stdout + waited.stderr
    status = waited.events[-1]
    assert status["phase"] == "rolled_back"
    # the colours as the router has them now: all traffic back on the old colour
    assert (status["live_now"], status["idle_now"]) == (step["live"], step["new"])
    assert status["router_now"] == {step["live"]: 100, step["new"]: 0}
