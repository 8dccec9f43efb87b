"""Child specs and child listings: what a supervisor starts, and what it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import attrs

from trouper._validate import (
    check_mailbox_factory,
    check_mailbox_size,
    check_name,
    check_seconds,
    check_throughput,
)
from trouper.actors import Actor, ActorRef, ActorState
from trouper.supervision._strategy import Restart

__all__ = ["ChildInfo", "ChildSpec", "check_unique_ids"]


def _check_id(_instance: object, _attribute: object, value: str) -> None:
    check_name(value, "a child id")


def _check_restart(_instance: object, _attribute: object, value: Restart) -> None:
    if not isinstance(value, Restart):
        raise ValueError(
            "restart must be Restart.PERMANENT, Restart.TRANSIENT or Restart.TEMPORARY, "
            f"got {value!r}"
        )


def _check_shutdown(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None:
        check_seconds("shutdown", value)


def _check_name(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None:
        check_name(value, "name")


def _check_mailbox(_instance: object, _attribute: object, value: object) -> None:
    if value is not None:
        try:
            check_mailbox_factory(value)
        except TypeError as error:
            raise ValueError(str(error)) from None  # as every field of a spec does


def _check_throughput(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None:
        check_throughput(value)


def _check_mailbox_size(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None:
        check_mailbox_size(value)


def _check_factory(_instance: object, _attribute: object, value: Callable[..., Actor]) -> None:
    if not callable(value):
        raise ValueError(f"factory must be callable (an Actor class or a function), got {value!r}")


def _to_tuple(value: Iterable[object]) -> tuple[object, ...]:
    # A string or bytes would silently become one argument per character.
    if isinstance(value, str | bytes) or not isinstance(value, tuple | list):
        raise ValueError(f"args must be a tuple or list of positional arguments, got {value!r}")
    return tuple(value)


def _frozen_mapping(value: Mapping[str, object]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"kwargs must be a mapping of keyword arguments, got {value!r}")
    bad = [key for key in value if not isinstance(key, str) or not key.isidentifier()]
    if bad:
        raise ValueError(f"kwargs keys must be argument names, got {bad[0]!r}")
    return MappingProxyType(dict(value))


@attrs.frozen
class ChildSpec:
    """How a supervisor starts one child, and when it restarts it (OTP's child spec)."""

    id: str = attrs.field(validator=_check_id)
    """Unique among the supervisor's children; also the child's path segment."""
    factory: Callable[..., Actor] = attrs.field(validator=_check_factory)
    """What builds the child: an ``Actor`` subclass or a function returning an instance."""
    args: tuple[object, ...] = attrs.field(default=(), converter=_to_tuple)
    """Positional arguments for ``factory``."""
    kwargs: Mapping[str, object] = attrs.field(factory=dict, converter=_frozen_mapping)
    """Keyword arguments for ``factory``."""
    restart: Restart = attrs.field(default=Restart.PERMANENT, validator=_check_restart)
    """When the child is restarted (default: always, as in OTP)."""
    shutdown: float | None = attrs.field(default=None, validator=_check_shutdown)
    """Seconds a graceful stop may take before the child is cancelled (0: at once;
    ``None``: the runtime's ``shutdown``, or no limit for a child that has children
    of its own, as OTP gives supervisors ``infinity``)."""
    name: str | None = attrs.field(default=None, validator=_check_name)
    """A runtime-wide name to register the child under, or ``None``."""
    mailbox_size: float | None = attrs.field(default=None, validator=_check_mailbox_size)
    """The child's mailbox capacity (``None``: the runtime's default)."""
    throughput: int | None = attrs.field(default=None, validator=_check_throughput)
    """Messages the child handles before it yields (``None``: the runtime's default)."""
    mailbox: object = attrs.field(default=None, validator=_check_mailbox)
    """A mailbox factory (``trouper.durable.Durable()``), or ``None`` for the class default."""


def check_unique_ids(specs: Iterable[ChildSpec]) -> list[ChildSpec]:
    """Return the specs as a list, or raise ``ValueError`` naming a repeated id."""
    seen: set[str] = set()
    result = []
    for spec in specs:
        if not isinstance(spec, ChildSpec):
            raise ValueError(f"children must be ChildSpec values, got {spec!r}")
        if spec.id in seen:
            raise ValueError(f"duplicate child id {spec.id!r}")
        seen.add(spec.id)
        result.append(spec)
    return result


@attrs.frozen
class ChildInfo:
    """One child of a supervisor, as ``children()`` lists it."""

    id: str
    """The child's id."""
    ref: ActorRef[object]
    """The child's ref (stable across restarts)."""
    state: ActorState
    """Where the child is in its life."""
    restart_count: int
    """How many times it has been restarted."""
    restart: Restart
    """Its restart kind."""
