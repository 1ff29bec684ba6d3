"""The one typed record shifter persists: the rollout state on the release's Lease.

Two annotations on ``coordination.k8s.io/v1`` Lease ``shifter-<release>`` hold JSON:

``shifter.dev/state`` (``Record``, written by the lease holder only)
    schema      version of this schema (``SCHEMA``); a newer one is refused, not guessed
    version     the shifter version that wrote it
    rollout     the rollout id: new for every fresh rollout, kept when one is resumed
    phase       ``shifter.state.Phase`` value
    step        index into ``steps``; ``steps`` the plan's weights
    weight      percent on ``new`` as last read back from the router; None: cannot tell
    new, live   the colours
    reason, revert_cause   why the rollout is where it is (``RevertCause`` value)
    holder      the identity of the run that wrote it
    promote_requested      a ``promote`` request of THIS rollout is pending
    handled     ids of requests this rollout acted on or ignored (bounded)
    history     the last verdicts, oldest dropped first so the record fits ``MAX_BYTES``
    deploy      free-form room for the deploy phase (what was deployed, by whom)
    cause       the machine-readable cause of the last verdict (``analysis.verdict.Cause``)
    analysis    the evidence the anytime-valid tests carry across steps, so a resumed run
                keeps the whole-rollout bound (``Analyzer.state``/``restore``)
    started, step_started, router, namespace, services   what ``status`` and ``abort`` need
    watch_until, approval_until   unix times: the end of the watch after the promotion, and
                when an unanswered gate is reverted (only in those phases)
    promoted_at unix time the promote write finished
    deployments the colours' Deployment names (what ``undo`` and ``cleanup`` scale)
    aftercare   a scale-down of the previous colour due later (``Aftercare``), carried out
                by ``run``, ``undo`` or ``cleanup``; its replicas before, for ``undo``

``shifter.dev/request`` (``OperatorRequest``, written by any shell)
    action, by, at, id, and ``rollout``: the rollout id it was posted to. A request acts
    only on that rollout; one without an id (``kubectl annotate`` by hand) only on a rollout
    that started before it was posted. Unknown actions are ignored with a warning.

A real API server refuses a write whose annotations total more than 256 KiB
(apimachinery/pkg/api/validation/objectmeta.go, ``TotalAnnotationSizeLimitB``), so the
record is kept under ``MAX_BYTES`` whatever the number of checks or the length of reasons.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shifter.state import Phase, RevertCause

SCHEMA = 1
MAX_BYTES = 64 * 1024  # the state annotation; a quarter of the 256 KiB total
MAX_REASON = 1000  # characters of one reason kept in the record
MAX_HANDLED = 20


class Action(StrEnum):
    """What an operator can ask of a running rollout."""

    ABORT = "abort"  # put all traffic back on the old colour now (exit 4)
    APPROVE = "approve"  # answer a gate: go on to the next step
    PROMOTE = "promote"  # go on to the next step (answering a gate)
    PROMOTE_FULL = "promote-full"  # promote once the current step passes
    PROMOTE_FORCE = "promote-force"  # promote now, skipping the current step's analysis
    PAUSE = "pause"  # hold the weight; analysis still runs and a fail still reverts
    RESUME = "resume"  # continue a paused rollout


class Verdict(BaseModel):
    """One analysis sample as kept in the history."""

    model_config = ConfigDict(extra="ignore")

    step: int
    weight: int
    verdict: str
    cause: str | None = None
    at: float = 0.0
    reason: str = ""
    values: dict[str, Any] = Field(default_factory=dict)


class Aftercare(BaseModel):
    """A scale-down of a colour's Deployment, due at ``due`` (unix time); ``replicas``: its
    count before, restored by ``undo`` and the next deploy to that colour."""

    model_config = ConfigDict(extra="ignore")

    colour: str
    deployment: str
    due: float
    to: int = 0
    replicas: int | None = None
    done: bool = False


class Record(BaseModel):
    """The rollout state on the Lease; see the module docstring for each field."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_: int = Field(default=SCHEMA, alias="schema")
    version: str = ""
    rollout: str = ""
    phase: Phase = Phase.PENDING
    step: int = 0
    steps: list[int] = Field(default_factory=list)
    weight: int | None = 0
    new: str = ""
    live: str = ""
    reason: str = ""
    revert_cause: RevertCause | None = None
    holder: str = ""
    promote_requested: bool = False
    handled: list[str] = Field(default_factory=list)
    history: list[Verdict] = Field(default_factory=list)
    deploy: dict[str, Any] = Field(default_factory=dict)
    cause: str | None = None
    analysis: dict[str, Any] = Field(default_factory=dict)
    started: float = 0.0
    step_started: float = 0.0
    router: dict[str, Any] = Field(default_factory=dict)
    namespace: str = ""
    services: dict[str, str] = Field(default_factory=dict)
    watch_until: float | None = None
    approval_until: float | None = None
    promoted_at: float | None = None
    aftercare: Aftercare | None = None
    deployments: dict[str, str] = Field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self, max_bytes: int = MAX_BYTES) -> str:
        """Compact JSON under ``max_bytes``: reasons cut, then the oldest history dropped."""
        data = self.dump()
        data["reason"] = _cut(data["reason"])
        data["handled"] = data["handled"][-MAX_HANDLED:]
        history = data["history"]
        for entry in history:
            entry["reason"] = _cut(entry["reason"])
        text = _compact(data)
        while len(text.encode()) > max_bytes and history:
            drop = max(1, len(history) // 8)
            del history[:drop]
            text = _compact(data)
        if len(text.encode()) > max_bytes:  # only a pathological router config is left
            data["router"] = {"kind": str(data["router"].get("kind", ""))}
            data["deploy"] = {}
            text = _compact(data)
        return text


class RecordError(ValueError):
    """A stored record that cannot be used (newer schema, wrong types)."""


def parse_record(data: dict[str, Any] | None) -> Record | None:
    """The record from its JSON object; None when absent; RecordError when unusable."""
    if data is None:
        return None
    schema = data.get("schema", SCHEMA)
    if isinstance(schema, int) and schema > SCHEMA:
        raise RecordError(f"the Lease's record has schema {schema}; this shifter reads up "
                          f"to {SCHEMA}: upgrade shifter")
    try:
        return Record.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RecordError(f"the Lease's record is unreadable at {where}: {first['msg']}"
                          ) from None


class OperatorRequest(BaseModel):
    """An operator's request as posted on the Lease."""

    model_config = ConfigDict(extra="ignore")

    action: str
    by: str = "?"
    at: str = ""
    id: str = ""
    rollout: str | None = None

    @property
    def known(self) -> Action | None:
        """The action, or None when it is not one shifter knows (a typo)."""
        try:
            return Action(self.action)
        except ValueError:
            return None


def parse_request(data: dict[str, Any] | None) -> OperatorRequest | None:
    if data is None:
        return None
    try:
        return OperatorRequest.model_validate(data)
    except ValidationError:
        return OperatorRequest(action=str(data.get("action")), id=str(data.get("id", "")))


def belongs_to(req: OperatorRequest, rollout: str, started_wall: float,
               posted_at: float | None) -> bool:
    """Whether ``req`` was posted to ``rollout`` (see the module docstring)."""
    if req.rollout is not None:
        return req.rollout == rollout
    return posted_at is not None and posted_at >= started_wall


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
