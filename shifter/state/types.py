"""The state machine's vocabulary: phases, revert causes, events (what happened), actions
(what the engine must do) and the ``State`` they act on (``shifter.state``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shifter.analysis.verdict import Verdict


class Phase(StrEnum):
    """Where a rollout is."""

    PENDING = "pending"  # nothing checked or changed yet
    SHIFTING = "shifting"  # a step's weight is set (or being set); its checks are running
    PAUSED = "paused"  # an operator holds the weight; checks still run and a fail reverts
    AWAITING_APPROVAL = "awaiting_approval"  # a gate holds the weight until approved
    PROMOTING = "promoting"  # the new colour is being made the live one
    REVERTING = "reverting"  # all traffic is being put back on the old colour
    WATCHING = "watching"  # promoted; the new live colour is still judged (after_promotion)
    PROMOTED = "promoted"  # done: the new colour is live (exit 0)
    ROLLED_BACK = "rolled_back"  # done: a check failed or stayed inconclusive; old colour (3)
    ABORTED = "aborted"  # done: an operator or a signal stopped it; old colour (4)
    HELD = "held"  # done: interrupted with --on-interrupt hold; weight left as it was (4)
    FAILED = "failed"  # done: shifter could not go on (cluster/Prometheus); see reason (5)
    UNDONE = "undone"  # done: ``shifter undo`` put all traffic back on the previous colour (0)

    @property
    def is_final(self) -> bool:
        """No more transitions: the process may exit."""
        return self in _FINAL

    @property
    def is_active(self) -> bool:
        """Traffic may be on the new colour and analysis is running."""
        return self in (Phase.SHIFTING, Phase.PAUSED, Phase.AWAITING_APPROVAL)

    @property
    def exit_code(self) -> int:
        return _EXIT[self]


_FINAL = frozenset({Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.HELD, Phase.FAILED,
                    Phase.UNDONE})
_EXIT = {Phase.PROMOTED: 0, Phase.ROLLED_BACK: 3, Phase.ABORTED: 4, Phase.HELD: 4,
         Phase.FAILED: 5, Phase.UNDONE: 0, Phase.PENDING: 1, Phase.SHIFTING: 1,
         Phase.PAUSED: 1, Phase.AWAITING_APPROVAL: 1, Phase.PROMOTING: 1,
         Phase.REVERTING: 1, Phase.WATCHING: 1}


class RevertCause(StrEnum):
    """Why traffic goes back to the old colour; decides the final phase."""

    SLO = "slo"  # a check failed: rolled_back
    DEADLINE = "deadline"  # a step stayed inconclusive until its deadline: rolled_back
    ABORT = "abort"  # an operator asked: aborted
    SIGNAL = "signal"  # SIGINT/SIGTERM: aborted
    ERROR = "error"  # shifter could not go on: failed
    APPROVAL_TIMEOUT = "approval_timeout"  # nobody answered a gate in time: aborted
    WATCH = "watch"  # a check failed while watching after the promotion: rolled_back


_REVERT_FINAL = {RevertCause.SLO: Phase.ROLLED_BACK, RevertCause.DEADLINE: Phase.ROLLED_BACK,
                 RevertCause.ABORT: Phase.ABORTED, RevertCause.SIGNAL: Phase.ABORTED,
                 RevertCause.ERROR: Phase.FAILED, RevertCause.APPROVAL_TIMEOUT: Phase.ABORTED,
                 RevertCause.WATCH: Phase.ROLLED_BACK}


# -- events (what happened) ------------------------------------------------------------------

@dataclass(frozen=True)
class Start:
    """Pre-flight passed: move to ``step`` (0, or the recorded one when resuming)."""

    now: float
    step: int = 0


@dataclass(frozen=True)
class WeightApplied:
    """The router confirmed the current step's weight at ``now``; its clock starts."""

    now: float


@dataclass(frozen=True)
class Sample:
    """One analysis tick: the combined verdict of every check at ``now``."""

    now: float
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class Request:
    """An operator's request: ``abort``, ``approve``/``promote`` (go on to the next step,
    answering a gate), ``promote-full`` (promote once the current step passes),
    ``promote-force``, ``pause``, ``resume``."""

    now: float
    action: str


@dataclass(frozen=True)
class Interrupted:
    """SIGINT/SIGTERM; ``hold`` leaves the weight where it is."""

    now: float
    hold: bool = False


@dataclass(frozen=True)
class Broken:
    """Shifter cannot go on (cluster or Prometheus unreachable past retries)."""

    now: float
    reason: str


@dataclass(frozen=True)
class Done:
    """The pending promote or revert write finished."""

    now: float


@dataclass(frozen=True)
class WeightFailed:
    """The step's weight could not be set. ``refused``: the API server refused it for good
    (403, invalid), so nothing was written; ``moved``: traffic was (or may be) on the new
    colour before this write."""

    now: float
    reason: str
    refused: bool = False
    moved: bool = True


Event = Start | WeightApplied | WeightFailed | Sample | Request | Interrupted | Broken | Done


# -- actions (what the engine must do) -------------------------------------------------------

@dataclass(frozen=True)
class SetWeight:
    step: int
    weight: int


@dataclass(frozen=True)
class Revert:
    cause: RevertCause
    reason: str


@dataclass(frozen=True)
class Promote:
    reason: str


@dataclass(frozen=True)
class Release:
    """Leave traffic as it is and let go of the lock (``--on-interrupt hold``)."""

    reason: str


@dataclass(frozen=True)
class AwaitApproval:
    """A gate: hold ``weight`` (step ``step``) until an operator approves ``next_weight``."""

    step: int
    weight: int
    next_weight: int


@dataclass(frozen=True)
class StartWatch:
    """The promotion is written: judge the new live colour for ``seconds`` more
    (``resumed``: the rest of a watch that a previous run started)."""

    seconds: float
    resumed: bool = False


Action = SetWeight | Revert | Promote | Release | AwaitApproval | StartWatch


# -- state -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """Everything the machine knows. ``since`` is when the current step's weight took
    effect (None while it is being set); ``paused_for`` is time spent paused in this step."""

    phase: Phase = Phase.PENDING
    step: int = 0
    since: float | None = None
    paused_at: float | None = None
    paused_for: float = 0.0
    consecutive_failures: int = 0
    total_failures: int = 0
    last_verdict: Verdict | None = None
    promote_requested: bool = False
    next_requested: bool = False  # ``promote``: go on to the next step at the next pass
    awaiting_since: float | None = None  # when the current gate started holding
    watch_until: float | None = None  # end of the watch after the promotion
    promoted_at: float | None = None  # when the promote write finished
    revert_cause: RevertCause | None = None
    reason: str = ""

    def elapsed(self, now: float) -> float:
        """Time the current step has run, not counting pauses."""
        if self.since is None:
            return 0.0
        paused = self.paused_for + (now - self.paused_at if self.paused_at is not None else 0.0)
        return max(0.0, now - self.since - paused)


class IllegalTransition(Exception):
    """An event that the current phase does not accept."""


Outcome = tuple[State, list[Action]]
