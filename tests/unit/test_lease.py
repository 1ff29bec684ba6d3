"""Lease bookkeeping that needs no server: holder expiry, records, requests, durations."""

import json

import pytest

from shifter.lease import (
    REQUEST_KEY,
    STATE_KEY,
    holder_of,
    lease_seconds,
    now_micro,
    parse_time,
    request_of,
    state_of,
)


def lease(holder="run-1", renew=1000.0, duration=15, annotations=None):
    return {"metadata": {"annotations": annotations or {}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": now_micro(renew - 5), "renewTime": now_micro(renew)}}


def test_micro_time_round_trips():
    assert parse_time(now_micro(1795600000.25)) == pytest.approx(1795600000.25)
    assert parse_time("not a time") is None and parse_time(None) is None


def test_a_fresh_holder_holds_an_expired_one_does_not():
    obj = lease(renew=1000.0, duration=15)
    assert holder_of(obj, now=1010.0) == ("run-1", pytest.approx(995.0))
    assert holder_of(obj, now=1016.0) is None
    assert holder_of(lease(holder=None), now=1000.0) is None


def test_state_and_request_annotations_are_json_or_ignored():
    obj = lease(annotations={STATE_KEY: json.dumps({"phase": "shifting", "step": 1}),
                             REQUEST_KEY: json.dumps({"action": "abort", "id": "x"})})
    assert state_of(obj) == {"phase": "shifting", "step": 1}
    assert request_of(obj)["action"] == "abort"
    broken = lease(annotations={STATE_KEY: "{not json", REQUEST_KEY: "[1, 2]"})
    assert state_of(broken) is None and request_of(broken) is None
    assert state_of(None) is None


def test_lease_seconds_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "3")
    assert lease_seconds() == 3
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "1")
    assert lease_seconds() == 2  # never shorter than the renewal cadence can keep
    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "soon")
    assert lease_seconds() == 15
