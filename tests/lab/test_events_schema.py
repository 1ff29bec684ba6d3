"""Every event a lab rollout emits validates against the JSON Schema shipped in the package
(``shifter/schemas/events.schema.json``, documented in docs/events.md)."""

from __future__ import annotations

import jsonschema
import pytest

from shifter.schemas import events_schema
from tests.lab.cli import STRICT, config, shifter, write_config

pytestmark = pytest.mark.lab


def check_all(events: list[dict]) -> None:
    validator = jsonschema.Draft202012Validator(events_schema())
    assert events
    for e in events:
        errors = sorted(validator.iter_errors(e), key=lambda x: x.path)
        assert not errors, f"{e.get('event')}: {[x.message for x in errors]}\n{e}"


@pytest.mark.parametrize("lab", ["nginx"], indirect=True)
def test_every_event_of_a_promotion_a_revert_a_dry_run_and_validate_is_valid(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router, bake="2s"))
    dry = shifter(lab, "run", "shop", "-f", str(path), "--dry-run")
    assert dry.code == 0, dry.stderr
    valid = shifter(lab, "validate", "-f", str(path))
    assert valid.code == 0, valid.stderr
    promoted = shifter(lab, "run", "shop", "-f", str(path))
    assert promoted.code == 0, promoted.stderr
    steps = promoted.of("step")
    assert [s["step"] for s in steps] == [1, 2, 3]  # 1-based, as status counts
    assert {s["new"] for s in steps} == {"green"} and {s["new_service"] for s in steps} == {
        "shop-green"}
    plan = promoted.of("plan")[0]
    assert (plan["new"], plan["new_service"]) == ("green", "shop-green")

    lab.fault("blue", error_rate=0.2)  # the next run goes back to blue
    bad = write_config(tmp_path, config(lab, lab.router, analysis=STRICT), "bad.yaml")
    reverted = shifter(lab, "run", "shop", "-f", str(bad))
    assert reverted.code == 3, reverted.stderr
    assert reverted.of("revert") and reverted.of("reverted")
    for result in (dry, valid, promoted, reverted):
        check_all(result.events)
        assert all(e["schema"] == 1 for e in result.events)
        # stderr log lines never use the stdout events' key
        for line in result.stderr.splitlines():
            assert '"event":' not in line, line
