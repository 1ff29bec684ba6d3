"""Lease bookkeeping that needs no server: holder expiry, records, requests, durations."""

import copy
import json

import pytest

from shifter.errors import Conflict, KubeUnavailable, NotFound
from shifter.kube.client import KubeClient
from shifter.lease import (
    REQUEST_KEY,
    STATE_KEY,
    Lease,
    LockLost,
    holder_of,
    lease_seconds,
    now_micro,
    parse_time,
    request_of,
    state_of,
)
from shifter.record import Record


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


# -- the Lease as client-go's leader election uses it (issue 13, defect 3) --------------------



class LeaseServer(KubeClient):
    """One Lease with resourceVersion checks; ``conflicts`` answers the next N PUTs 409."""

    def __init__(self) -> None:
        self.obj = None
        self.rv = 0
        self.conflicts = 0
        self.on_conflict = None

    def get(self, ref):
        if self.obj is None:
            raise NotFound("no lease", status=404)
        return copy.deepcopy(self.obj)

    def _store(self, body):
        self.rv += 1
        self.obj = copy.deepcopy(body)
        self.obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.obj)

    def create(self, ref, body, *, dry_run=False):
        return self._store(body)

    def replace(self, ref, body, *, dry_run=False):
        if self.conflicts > 0 or body["metadata"].get("resourceVersion") != str(self.rv):
            self.conflicts = max(0, self.conflicts - 1)
            if self.on_conflict:
                self.on_conflict(self)
            raise Conflict("the object has been modified", status=409)
        return self._store(body)


def test_conflicts_alone_are_retried_never_a_takeover():
    server = LeaseServer()
    lease = Lease(server, "shop", "demo", identity="me")
    lease.acquire()
    server.conflicts = 12  # more than the old limit of 10
    lease.write(Record(rollout="r1"))
    assert server.obj["spec"]["holderIdentity"] == "me"
    assert json.loads(server.obj["metadata"]["annotations"][STATE_KEY])["rollout"] == "r1"


def test_a_foreign_holder_seen_after_a_conflict_is_a_takeover():
    server = LeaseServer()
    lease = Lease(server, "shop", "demo", identity="me")
    lease.acquire()
    server.conflicts = 1
    server.on_conflict = lambda s: s.obj["spec"].update(holderIdentity="other")
    with pytest.raises(LockLost, match="other"):
        lease.write(Record())


def test_conflicts_past_the_budget_give_up_without_losing_the_lock():
    server = LeaseServer()
    lease = Lease(server, "shop", "demo", identity="me")
    lease.acquire()
    server.conflicts = 10**9
    with pytest.raises(KubeUnavailable) as err:
        lease.write(Record(), deadline=0.05)
    assert not isinstance(err.value, LockLost)


def test_a_handled_request_is_not_returned_again_and_is_cleared():
    server = LeaseServer()
    lease = Lease(server, "shop", "demo", identity="me")
    lease.acquire()
    server.obj["metadata"].setdefault("annotations", {})[REQUEST_KEY] = json.dumps(
        {"action": "pause", "id": "q1", "rollout": "r1"})
    lease.obj = None
    req = lease.poll()
    assert req is not None and req.id == "q1" and req.rollout == "r1"
    lease.write(Record(rollout="r1", handled=["q1"]))
    assert REQUEST_KEY not in server.obj["metadata"]["annotations"]
    assert lease.poll() is None


def test_own_lease_validity_counts_from_the_last_renewal():
    now = [1000.0]
    server = LeaseServer()
    lease = Lease(server, "shop", "demo", identity="me", duration=15, clock=lambda: now[0])
    lease.acquire()
    now[0] += 14
    assert lease.held_for() == pytest.approx(1.0)
    now[0] += 2
    assert lease.held_for() < 0
