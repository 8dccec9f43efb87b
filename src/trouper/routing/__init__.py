"""Routing: pools of actors behind one ref, with round-robin, balancing, hash and broadcast routers.

Imports ``trouper.runtime`` (and its ``lowlevel``), ``trouper.actors``, ``trouper.supervision``.
"""

from trouper._exports import publish
from trouper.routing._messages import Members, Resize
from trouper.routing._pool import PoolFactory, members, pool, resize, spawn_pool
from trouper.routing._routers import (
    Balancing,
    Broadcast,
    ConsistentHash,
    HashRing,
    RoundRobin,
    Router,
    key_hash,
)

__all__ = [
    "Balancing",
    "Broadcast",
    "ConsistentHash",
    "HashRing",
    "Members",
    "PoolFactory",
    "Resize",
    "RoundRobin",
    "Router",
    "key_hash",
    "members",
    "pool",
    "resize",
    "spawn_pool",
]

publish(__name__, globals())
