"""The rollout state machine: phases, events, actions and one literal transition table.

No I/O and no clock: time arrives inside events, so the whole machine runs in unit tests
without sleeping (the h11 model). ``advance(state, event)`` returns the next state and the
actions the engine must carry out; the engine reports their outcome as further events.
An event that the table does not allow in the current phase raises ``IllegalTransition``.

The package: ``shifter.state.types`` (phases, events, actions, ``State``),
``shifter.state.machine`` (the transition table and ``advance``) and
``shifter.state.resuming`` (``resume``: where a recorded rollout picks up).
"""

from shifter.state.machine import TRANSITIONS, advance
from shifter.state.resuming import FINISHING, resume
from shifter.state.types import (
    Action,
    AwaitApproval,
    Broken,
    Done,
    Event,
    IllegalTransition,
    Interrupted,
    Outcome,
    Phase,
    Promote,
    Release,
    Request,
    Revert,
    RevertCause,
    Sample,
    SetWeight,
    Start,
    StartWatch,
    State,
    WeightApplied,
    WeightFailed,
)

__all__ = [
    "FINISHING",
    "TRANSITIONS",
    "Action",
    "AwaitApproval",
    "Broken",
    "Done",
    "Event",
    "IllegalTransition",
    "Interrupted",
    "Outcome",
    "Phase",
    "Promote",
    "Release",
    "Request",
    "Revert",
    "RevertCause",
    "Sample",
    "SetWeight",
    "Start",
    "StartWatch",
    "State",
    "WeightApplied",
    "WeightFailed",
    "advance",
    "resume",
]
