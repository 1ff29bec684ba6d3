"""What the engine emits, once normalized by the reporter, is the documented event schema
(docs/events.md, shifter/schemas/events.schema.json): checked here without a cluster, and
in tests/lab/test_events_schema.py for real rollouts."""

from __future__ import annotations

import jsonschema
import pytest

from shifter.analysis.verdict import Verdict
from shifter.report import normalize
from shifter.schemas import events_schema
from tests.unit.test_engine import engine

SERVICES = {"blue": "shop-blue", "green": "shop-green"}


@pytest.mark.parametrize("verdicts", [
    lambda w, win: Verdict.PASS,
    lambda w, win: Verdict.FAIL if w == 50 and win >= 2 else Verdict.PASS,
    lambda w, win: Verdict.INCONCLUSIVE,
], ids=["promoted", "reverted", "deadline"])
def test_every_engine_event_validates_after_normalizing(verdicts):
    eng, _router, _analyzer, events, _clock = engine(verdicts, deadline=8.0)
    eng.run()
    validator = jsonschema.Draft202012Validator(events_schema())
    assert events.events
    for name, fields in events.events:
        event = normalize(name, fields, release="shop", namespace="demo", services=SERVICES)
        errors = [e.message for e in validator.iter_errors(event)]
        assert errors == [], (name, event)
    steps = [normalize(n, f)["step"] for n, f in events.events if n == "step"]
    assert steps[0] == 1
