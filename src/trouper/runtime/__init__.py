"""The engine: ``open_runtime()``, ``Runtime``, cells, supervisors at work, dead letters, events.

Imports ``trouper.actors`` and ``trouper.supervision``; nothing above them.
"""

from trouper._exports import publish
from trouper.runtime._observe import (
    ActorEvent,
    DeadLetter,
    DeadLetterOffice,
    DeadLetterReason,
    EventKind,
    EventLog,
    Listener,
)
from trouper.runtime._portal import Portal
from trouper.runtime._runtime import Runtime, open_runtime, start_runtime
from trouper.runtime._supervisor import (
    DeleteChild,
    RestartChild,
    StartChild,
    StopChild,
    Supervisor,
    WhichChildren,
)
from trouper.runtime._tree import ActorInfo, ActorTree

__all__ = [
    "ActorEvent",
    "ActorInfo",
    "ActorTree",
    "DeadLetter",
    "DeadLetterOffice",
    "DeadLetterReason",
    "DeleteChild",
    "EventKind",
    "EventLog",
    "Listener",
    "Portal",
    "RestartChild",
    "Runtime",
    "StartChild",
    "StopChild",
    "Supervisor",
    "WhichChildren",
    "open_runtime",
    "start_runtime",
]

publish(__name__, globals())
