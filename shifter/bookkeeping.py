"""The engine's record keeping and reporting: the record it persists in the Lease, and the
Kubernetes Events and notifications it sends. A mixin of ``shifter.engine.Engine``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shifter.analysis.analyzer import Analyzer
from shifter.keeper import LeaseKeeper
from shifter.kevents import EventRecorder
from shifter.notify import Notifier
from shifter.plan import Plan
from shifter.record import Aftercare, Record
from shifter.routers.base import Colour, Target
from shifter.state import Phase, State

HISTORY = 60  # verdicts kept in memory (the record keeps fewer if they do not fit)


class RecordsAndEvents:
    """Needs the Engine's fields below; see ``shifter.engine.Engine``."""

    analyzer: Analyzer | None
    plan: Plan
    target: Target
    new: Colour
    events: EventRecorder | None
    notifier: Notifier | None
    router_record: dict[str, Any]
    clock: Callable[[], float]
    state: State
    history: list[dict[str, Any]]
    started_wall: float
    rollout_id: str
    handled: list[str]
    deploy: dict[str, Any]
    weight_read: int | None
    _deferred: list[tuple[str, str]]
    last_cause: str | None
    aftercare: Aftercare | None
    deployments: dict[str, str]

    if TYPE_CHECKING:
        @property
        def _keeper(self) -> LeaseKeeper: ...

        @property
        def live(self) -> Colour: ...

        def _wall(self, t: float | None) -> float | None: ...

    # -- record keeping ----------------------------------------------------------------------

    def record(self) -> Record:
        s = self.state
        return Record(
            rollout=self.rollout_id, phase=s.phase, step=s.step, steps=list(self.plan.weights),
            weight=self.weight_read, new=self.new.value, live=self.live.value,
            reason=s.reason, revert_cause=s.revert_cause,
            started=round(self.started_wall, 3),
            step_started=round(time.time() - s.elapsed(self.clock()), 3),
            router=self.router_record, namespace=self.target.namespace,
            services={"blue": self.target.blue_service, "green": self.target.green_service},
            promote_requested=s.promote_requested, handled=self.handled[-20:],
            history=[_verdict(h) for h in self.history[-HISTORY:]], deploy=self.deploy,
            cause=self.last_cause,
            analysis=self.analyzer.state() if self.analyzer is not None else {},
            watch_until=self._wall(s.watch_until) if s.phase is Phase.WATCHING else None,
            approval_until=(self._wall(s.awaiting_since + self.plan.approval_timeout)
                            if s.phase is Phase.AWAITING_APPROVAL
                            and s.awaiting_since is not None else None),
            promoted_at=self._wall(s.promoted_at), aftercare=self.aftercare,
            deployments=self.deployments)

    def _persist(self, *, deadline: float | None = None) -> None:
        """Record the state in the Lease (``LeaseKeeper.persist``)."""
        self._keeper.persist(self.record(), final=self.state.phase.is_final,
                             deadline=deadline)

    def _flush_kevents(self) -> None:
        """Write the Warning Events held back so they never delay a decision."""
        while self._deferred:
            reason, message = self._deferred.pop(0)
            self._kevent(reason, message, warning=True)

    def _kevent(self, reason: str, message: str, *, warning: bool = False) -> None:
        if self.events is not None:
            self.events.record(reason, message, warning=warning)

    def _notify(self, event: str, **payload: Any) -> None:
        if self.notifier is not None:
            self.notifier.notify(event, {"new": self.target.service(self.new), **payload})


def _verdict(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ("step", "weight", "verdict", "cause", "at", "reason",
                                      "values")
            if entry.get(k) is not None}
