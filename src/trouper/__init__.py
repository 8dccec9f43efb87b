"""trouper: an actor runtime for Trio.

Actors own mailboxes and talk only by messages; supervisors restart the ones
that fail. This module re-exports what the common case needs; the
subpackages (``trouper.actors``, ``trouper.supervision``, ``trouper.runtime``,
...) hold the rest.
"""

# The layers above the engine attach to every runtime as extensions when they
# are imported (rt.topics, rt.spawn_pool): importing trouper makes them available.
from trouper import routing as _routing  # noqa: F401
from trouper import topics as _topics  # noqa: F401
from trouper.actors import (
    Actor,
    ActorRef,
    ActorState,
    Address,
    Context,
    Exited,
    Reject,
    Request,
    Terminated,
    Timer,
    handler,
)
from trouper.codec import message, register
from trouper.errors import (
    ActorError,
    ActorStopped,
    AskCycle,
    ChildFailed,
    ChildNotFound,
    DuplicateChild,
    HandlerError,
    InvalidSubject,
    LinkedActorFailed,
    MailboxFull,
    NameTaken,
    RestartIntensityExceeded,
    RuntimeClosed,
    StartFailed,
    UnhandledMessage,
)
from trouper.runtime import (
    ActorEvent,
    DeadLetter,
    EventKind,
    Runtime,
    Supervisor,
    open_runtime,
    start_runtime,
)
from trouper.supervision import (
    Backoff,
    ChildSpec,
    Directive,
    OneForAll,
    OneForOne,
    Restart,
    RestForOne,
    Strategy,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Actor",
    "ActorError",
    "ActorEvent",
    "ActorRef",
    "ActorState",
    "ActorStopped",
    "Address",
    "AskCycle",
    "Backoff",
    "ChildFailed",
    "ChildNotFound",
    "ChildSpec",
    "Context",
    "DeadLetter",
    "Directive",
    "DuplicateChild",
    "EventKind",
    "Exited",
    "HandlerError",
    "InvalidSubject",
    "LinkedActorFailed",
    "MailboxFull",
    "NameTaken",
    "OneForAll",
    "OneForOne",
    "Reject",
    "Request",
    "RestForOne",
    "Restart",
    "RestartIntensityExceeded",
    "Runtime",
    "RuntimeClosed",
    "StartFailed",
    "Strategy",
    "Supervisor",
    "Terminated",
    "Timer",
    "UnhandledMessage",
    "handler",
    "message",
    "open_runtime",
    "register",
    "start_runtime",
]
