"""Routers: frozen values that say how a pool spreads messages, and the hash ring.

Theory of operation
-------------------
A router is configuration, not machinery: ``spawn_pool`` reads it once and
builds the pool's endpoint (``_endpoints``), which does the routing on the
send path. The decisions that need no I/O live here as pure code, tested
without Trio: the consistent-hash ring (``HashRing``) and the key hash.

The ring is a sorted tuple of points on a 32-bit circle, ``virtual_nodes``
points per member, each point derived from the member's id (``member-3#17``),
never from its position or from the process: the same ids give the same ring
in every process, whatever ``PYTHONHASHSEED`` is. A key belongs to the member
that owns the first point at or after the key's hash (wrapping around). Adding
a member only takes keys from the others; removing one only hands its keys to
the others: keys that belonged to a surviving member stay where they were.
"""

from __future__ import annotations

import functools
import inspect
from bisect import bisect_left
from collections.abc import Callable, Sequence
from zlib import crc32

import attrs

from trouper._text import type_name
from trouper.supervision import Strategy

__all__ = [
    "Balancing",
    "Broadcast",
    "ConsistentHash",
    "HashRing",
    "RoundRobin",
    "Router",
    "key_hash",
]

_MASK = 0xFFFFFFFF

# What a class with no repr of its own inherits (read once, not per key hashed).
_OBJECT_REPR = object.__repr__


def _mix(h: int) -> int:
    """Scatter a CRC (linear, so similar inputs give related values) over 32 bits."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


def key_hash(key: object) -> int:
    """Return the 32-bit ring position of ``key``, the same in every process.

    ``bytes`` are hashed as they are, ``str`` as UTF-8, anything else by its
    ``repr()`` (stable for ints, tuples of them, frozen attrs values; not for
    objects whose repr shows their ``id``). Python's ``hash()`` is never used:
    it changes with ``PYTHONHASHSEED``.

    Raises:
        TypeError: ``key``'s class has no repr of its own (``object.__repr__``
            shows the id, so equal keys would get different positions).
    """
    if isinstance(key, bytes):
        data = key
    elif isinstance(key, str):
        data = key.encode()
    else:
        if type(key).__repr__ is _OBJECT_REPR:
            raise TypeError(
                f"key_hash cannot place a {type_name(type(key))}: its repr is object.__repr__, "
                "which shows its id, so equal keys would land on different members; return a "
                "str, bytes, int or a value with a repr of its own (a frozen attrs class)"
            )
        data = repr(key).encode()
    return _mix(crc32(data))


def _check_strategy(_instance: object, _attribute: object, value: Strategy | None) -> None:
    if value is not None and not isinstance(value, Strategy):
        raise ValueError(f"strategy must be a Strategy or None, got {value!r}")


@attrs.frozen
class Router:
    """How a pool spreads the messages told or asked to its one ref (base class).

    Use one of ``RoundRobin``, ``Balancing``, ``ConsistentHash`` or
    ``Broadcast``; other subclasses are not supported (the pool does not know
    how to route for them). Every router takes ``strategy``, keyword-only.
    """

    strategy: Strategy | None = attrs.field(default=None, kw_only=True, validator=_check_strategy)
    """How the pool supervises its members; ``None`` is the runtime's ``default_strategy``.

    Restart intensity counts over all the members together; a pool whose
    members fail faster than it allows gives up and fails, and its own
    supervisor decides (see ``docs/routing.md``).
    """


@attrs.frozen
class RoundRobin(Router):
    """Each message goes to the next member in turn (member order, wrapping around).

    Every member has its own mailbox; a busy member's queue does not delay the
    others, and a slow one accumulates its share of the messages.
    """


@attrs.frozen
class Balancing(Router):
    """One shared mailbox: each message is handled by exactly one member, whichever is free.

    A work queue. Messages are taken in the order they were put, each by one
    idle member; a member busy with a long handler takes nothing meanwhile.
    The queue belongs to the pool: it survives member restarts and resizes.
    """


def _check_key(_instance: object, _attribute: object, value: Callable[[object], object]) -> None:
    if not callable(value):
        raise TypeError(f"key must be callable (message -> key), got {value!r}")
    if inspect.iscoroutinefunction(value) or (
        not inspect.isroutine(value)
        and not isinstance(value, type | functools.partial)
        and inspect.iscoroutinefunction(type(value).__call__)
    ):
        # Its coroutine would be placed by its repr, which holds its address: each
        # message on a member at random (and a "never awaited" warning).
        raise TypeError(
            f"key must map a message to its key at once, got the async function {value!r}: "
            "a coroutine has no stable key (its repr holds its id); make key a plain function"
        )


def _check_virtual_nodes(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"virtual_nodes must be an int >= 1, got {value!r}")


@attrs.frozen
class ConsistentHash(Router):
    """Messages with the same key go to the same member while the members are unchanged.

    ``key(message)`` gives the key (hashed by ``key_hash``); members sit on a
    ring with ``virtual_nodes`` points each, so that resizing the pool moves
    only the keys of the members added or removed. One key is handled by one
    member at a time, in the order its messages were sent (per sender).
    """

    key: Callable[[object], object] = attrs.field(validator=_check_key)
    """Maps a message to its key: ``str``, ``bytes``, ``int`` or a value with a stable repr
    (one whose class has no repr of its own is refused: ``key_hash``). A plain function: an
    async one is refused with ``TypeError``."""
    virtual_nodes: int = attrs.field(default=100, validator=_check_virtual_nodes)
    """Points per member on the ring: more spreads keys more evenly."""


@attrs.frozen
class Broadcast(Router):
    """Every member gets every message; an ``ask`` returns the list of all replies.

    The replies are in member order, once every member has answered. If some
    failed, the ask raises the error of the first one that failed (in member
    order), after all have answered.
    """


@attrs.frozen
class HashRing:
    """A consistent-hash ring over member ids: which member owns a key.

    Build it with ``HashRing.build(ids)``; look keys up with ``owner`` (by
    key) or ``owner_of_hash`` (by ``key_hash``). A pure value: the same ids
    and ``virtual_nodes`` give the same ring in every process.
    """

    points: tuple[int, ...]
    """Ring positions, ascending."""
    owners: tuple[str, ...]
    """The member id that owns each point (same length as ``points``)."""

    @classmethod
    def build(cls, ids: Sequence[str], virtual_nodes: int = 100) -> HashRing:
        """Place ``virtual_nodes`` points per id on the ring (ties broken by id).

        Raises:
            ValueError: ``ids`` is empty or has duplicates, or ``virtual_nodes`` < 1.
            TypeError: ``ids`` is a str (a sequence of letters, not of ids), or an
                id is not a non-empty str.
        """
        _check_virtual_nodes(None, None, virtual_nodes)
        if isinstance(ids, str):
            raise TypeError(f"ids must be a sequence of member ids (str), got the str {ids!r}")
        for position, member in enumerate(ids, start=1):
            if not isinstance(member, str) or not member:
                raise TypeError(
                    f"member ids must be non-empty str, got {member!r} at position {position}"
                )
        if not ids:
            raise ValueError("a ring needs at least one member id")
        if len(set(ids)) != len(ids):
            raise ValueError(f"member ids must be unique, got {list(ids)!r}")
        placed = sorted(
            (key_hash(f"{member}#{replica}"), member)
            for member in ids
            for replica in range(virtual_nodes)
        )
        return cls(tuple(p for p, _ in placed), tuple(m for _, m in placed))

    def index_of_hash(self, hashed: int) -> int:
        """The index (in ``points``) of the point that owns ring position ``hashed``."""
        i = bisect_left(self.points, hashed)
        return 0 if i == len(self.points) else i

    def owner_of_hash(self, hashed: int) -> str:
        """The member id owning ring position ``hashed``."""
        return self.owners[self.index_of_hash(hashed)]

    def owner(self, key: object) -> str:
        """The member id owning ``key``."""
        return self.owner_of_hash(key_hash(key))
