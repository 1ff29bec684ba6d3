"""The typed Lease record: schema, size bound, requests and which rollout they belong to."""

from __future__ import annotations

import json

import pytest

from shifter.record import (
    MAX_BYTES,
    SCHEMA,
    Action,
    OperatorRequest,
    Record,
    RecordError,
    belongs_to,
    parse_record,
    parse_request,
)
from shifter.state import Phase

# apimachinery/pkg/api/validation/objectmeta.go: TotalAnnotationSizeLimitB = 256 * (1 << 10)
TOTAL_ANNOTATIONS_LIMIT = 256 * 1024


def verdict(i: int, checks: int = 20, reason_len: int = 2000) -> dict:
    return {"step": i % 3, "weight": 10, "verdict": "fail", "at": 1000.0 + i,
            "reason": "x" * reason_len,
            "values": {f"check-{c}": {"rate": 0.123456789, "p99": 0.2} for c in range(checks)}}


def test_round_trip_keeps_every_field():
    rec = Record(rollout="r1", phase=Phase.PAUSED, step=1, steps=[10, 50, 100], weight=50,
                 new="green", live="blue", promote_requested=True, handled=["a"],
                 history=[verdict(1, checks=2, reason_len=5)], deploy={"image": "shop:2"})
    back = parse_record(json.loads(rec.to_json()))
    assert back == rec
    assert json.loads(rec.to_json())["schema"] == SCHEMA


def test_a_newer_schema_is_refused_not_guessed():
    with pytest.raises(RecordError, match="upgrade shifter"):
        parse_record({"schema": SCHEMA + 1, "phase": "shifting"})


def test_a_record_with_a_wrong_type_names_the_field():
    with pytest.raises(RecordError, match="phase"):
        parse_record({"phase": "exploding"})


def test_records_from_before_the_schema_still_read():
    rec = parse_record({"phase": "shifting", "step": 1, "weight": 50, "new": "green",
                        "history": [{"step": 1, "weight": 50, "verdict": "pass", "at": 1.0}]})
    assert rec is not None and rec.phase is Phase.SHIFTING and rec.rollout == ""


def test_the_record_stays_under_the_limit_whatever_the_checks_and_reasons():
    rec = Record(rollout="r", phase=Phase.SHIFTING, reason="y" * 10_000,
                 history=[verdict(i) for i in range(60)])
    text = rec.to_json()
    assert len(text.encode()) <= MAX_BYTES < TOTAL_ANNOTATIONS_LIMIT
    kept = json.loads(text)["history"]
    assert kept, "some history is kept"
    # the oldest went first: what is kept is the newest, in order
    assert [h["at"] for h in kept] == [1000.0 + i for i in range(60 - len(kept), 60)]
    assert len(json.loads(text)["reason"]) <= 1000


def test_a_small_record_keeps_all_its_history():
    rec = Record(history=[verdict(i, checks=2, reason_len=10) for i in range(60)])
    assert len(json.loads(rec.to_json())["history"]) == 60


def test_requests_know_their_actions():
    assert parse_request({"action": "abort", "id": "1"}).known is Action.ABORT
    assert parse_request({"action": "abrot", "id": "2"}).known is None
    assert parse_request(None) is None
    assert parse_request({"action": "pause", "id": 3, "by": ["x"]}).id == "3"


def test_a_request_belongs_to_the_rollout_it_was_posted_to():
    req = OperatorRequest(action="promote", id="1", rollout="r1")
    assert belongs_to(req, "r1", started_wall=100.0, posted_at=50.0)
    assert not belongs_to(req, "r2", started_wall=100.0, posted_at=500.0)
    # without a rollout id (kubectl annotate by hand): only if posted after it started
    bare = OperatorRequest(action="promote", id="2")
    assert belongs_to(bare, "r1", started_wall=100.0, posted_at=150.0)
    assert not belongs_to(bare, "r1", started_wall=100.0, posted_at=50.0)
    assert not belongs_to(bare, "r1", started_wall=100.0, posted_at=None)
