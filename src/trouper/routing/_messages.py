"""Pool management messages: the pool's ref hands these to the pool itself, not to a member."""

from __future__ import annotations

import attrs

from trouper._validate import check_positive_int
from trouper.actors import ActorRef, Request

__all__ = ["CONTROL", "Members", "Resize", "check_size"]


def check_size(value: object) -> int:
    """Return ``value`` if it is an int >= 1 (a pool size)."""
    return check_positive_int("size", value)


def _check_size(_instance: object, _attribute: object, value: int) -> None:
    check_size(value)


@attrs.frozen
class Resize(Request[None]):
    """Ask (or tell) a pool to have ``size`` members from now on.

    Growing starts the new members one after the other, each taking messages
    as soon as its ``on_start`` has run. Shrinking removes the members with
    the highest numbers: they take no new messages, and each stops once its
    running handler returns. What was queued for them is routed again to the
    members that stay (round-robin, consistent-hash), stays in the shared
    queue (balancing), or becomes dead letters (broadcast: the members that
    stay have their own copies). If a new member cannot start, the ask raises
    why (``StartFailed``, or its factory's own error) and the members started
    so far stay.

    Raises:
        ValueError: ``size`` is not an int >= 1 (when the message is built).
    """

    size: int = attrs.field(validator=_check_size)
    """The number of members wanted."""


@attrs.frozen
class Members(Request[tuple[ActorRef[object], ...]]):
    """Ask a pool for its members' refs, in member order (``member-1`` first).

    A member whose stop for good has begun has left: it is not listed.
    """


CONTROL: frozenset[type] = frozenset({Resize, Members})
"""Message types a pool's ref delivers to the pool itself."""
