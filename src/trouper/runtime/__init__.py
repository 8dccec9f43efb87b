"""The engine: ``open_runtime()``, ``Runtime``, cells, supervisors at work, dead letters, events.

Imports ``trouper.actors`` and ``trouper.supervision``; nothing above them.
"""

from trouper.runtime._mailbox import Mailbox
from trouper.runtime._observe import (
    ActorEvent,
    DeadLetter,
    DeadLetterOffice,
    EventKind,
    EventLog,
    Listener,
)
from trouper.runtime._portal import Portal
from trouper.runtime._runtime import Runtime, cell_of, open_runtime, start_runtime
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
    "DeleteChild",
    "EventKind",
    "EventLog",
    "Listener",
    "Mailbox",
    "Portal",
    "RestartChild",
    "Runtime",
    "StartChild",
    "StopChild",
    "Supervisor",
    "WhichChildren",
    "cell_of",
    "open_runtime",
    "start_runtime",
]
