"""Actors: what a user writes (``Actor``, ``@handler``, ``ActorRef``, ``Context``, messages).

Knows nothing of the engine; the runtime implements ``Context`` and the endpoints refs call
(the ``Endpoint`` and ``Watcher`` protocols are exported by ``trouper.runtime.lowlevel``).
"""

from trouper._exports import publish
from trouper.actors._actor import Actor, HandlerFunction, handler, instantiate
from trouper.actors._context import (
    IN_MEMORY_DELIVERY,
    Context,
    DeliveryInfo,
    Exited,
    Terminated,
    Timer,
)
from trouper.actors._ref import ActorRef, Address, Request, Tell, TellNowait
from trouper.actors._ref import Endpoint as Endpoint
from trouper.actors._ref import Watcher as Watcher
from trouper.actors._reply import Reject
from trouper.actors._state import ActorState

__all__ = [
    "IN_MEMORY_DELIVERY",
    "Actor",
    "ActorRef",
    "ActorState",
    "Address",
    "Context",
    "DeliveryInfo",
    "Exited",
    "HandlerFunction",
    "Reject",
    "Request",
    "Tell",
    "TellNowait",
    "Terminated",
    "Timer",
    "handler",
    "instantiate",
]

publish(__name__, globals())
