"""Traces: what happened in a simulation, in order, with virtual times.

A trace is a tuple of ``TraceEvent`` values. Everything in it is rendered to
text when recorded (paths, ``repr`` of messages, ``TypeName('message')`` of
errors), so two traces compare equal exactly when the runs did the same
things at the same times, and a trace can be saved, diffed or sent between
processes. Messages should have stable reprs (attrs classes do); a repr that
shows a memory address makes traces differ between processes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import overload

import attrs

__all__ = ["Trace", "TraceEvent", "TraceKind"]


class TraceKind(enum.StrEnum):
    """What a trace event records (a ``str``: ``TraceKind.SEND == "send"``)."""

    SEND = "send"
    """A tell, tell_nowait or ask was made (``actor`` is the sender)."""
    DELIVER = "deliver"
    """An actor is about to handle a message."""
    HANDLED = "handled"
    """A handler returned."""
    FAILED = "failed"
    """A handler or lifecycle hook raised."""
    STARTED = "started"
    """An instance completed ``on_start``."""
    RESTARTED = "restarted"
    """A supervisor decided a restart."""
    STOPPED = "stopped"
    """An actor stopped for good."""
    GAVE_UP = "gave_up"
    """A supervisor gave up (intensity exceeded, or an escalation)."""
    TIMER = "timer"
    """A timer fired."""
    FAULT = "fault"
    """A fault was injected, or the simulation noted something (a deadlock)."""
    DEAD_LETTER = "dead_letter"
    """A message became a dead letter."""


KINDS = tuple(kind.value for kind in TraceKind)


@attrs.frozen
class TraceEvent:
    """One thing that happened: when, what, to whom, and the details."""

    time: float
    """Virtual seconds since the simulation started."""
    kind: TraceKind = attrs.field(converter=TraceKind)
    """What happened (a ``TraceKind``; plain strings such as ``"send"`` are converted)."""
    actor: str
    """The actor's path (for ``send``: the sender, ``<main>`` outside actors)."""
    detail: str
    """The rest, as text: the message, the receiver, the error, the fault."""

    def __str__(self) -> str:
        return f"{self.time:10.4f}  {self.kind.value:<11} {self.actor}  {self.detail}"


class Trace(Sequence[TraceEvent]):
    """The events of a run, in order: print it, filter it, compare it."""

    __slots__ = ("_events",)

    def __init__(self, events: Sequence[TraceEvent] = ()) -> None:
        self._events = tuple(events)

    @overload
    def __getitem__(self, index: int) -> TraceEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Trace: ...

    def __getitem__(self, index: int | slice) -> TraceEvent | Trace:
        if isinstance(index, slice):
            return Trace(self._events[index])
        return self._events[index]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self._events)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Trace):
            return self._events == other._events
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._events)

    def __repr__(self) -> str:
        return f"<Trace of {len(self._events)} events>"

    def filter(
        self,
        kind: str | Sequence[str] | None = None,
        actor: str | None = None,
        contains: str | None = None,
    ) -> Trace:
        """The events of the given kind(s), of ``actor`` (a path), whose detail contains a text.

        Raises:
            ValueError: a kind is not a ``TraceKind``.
            TypeError: ``actor`` or ``contains`` is not a str (a ref for its path would
                match nothing).
        """
        if actor is not None and not isinstance(actor, str):
            raise TypeError(
                "actor must be an actor's path, a str such as '/bank/bob' (a ref's is "
                f"ref.address.path), got {actor!r}"
            )
        if contains is not None and not isinstance(contains, str):
            raise TypeError(f"contains must be a str, got {contains!r}")
        kinds = (kind,) if isinstance(kind, str) else kind
        if kinds is not None:
            unknown = [k for k in kinds if k not in KINDS]
            if unknown:
                raise ValueError(f"unknown trace kind {unknown[0]!r}; kinds are {', '.join(KINDS)}")
        return Trace(
            [
                event
                for event in self._events
                if (kinds is None or event.kind in kinds)
                and (actor is None or event.actor == actor)
                and (contains is None or contains in event.detail)
            ]
        )

    def render(self, limit: int | None = None) -> str:
        """The events as text, one per line (the last ``limit`` ones, if given).

        Raises:
            ValueError: ``limit`` is negative.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        events = (
            self._events if limit is None else self._events[max(0, len(self._events) - limit) :]
        )
        skipped = len(self._events) - len(events)
        lines = [f"... {skipped} earlier events"] if skipped else []
        lines.extend(str(event) for event in events)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def first_difference(self, other: Trace) -> int | None:
        """The index of the first event that differs from ``other``'s, or ``None`` if equal.

        Raises:
            TypeError: ``other`` is not a ``Trace``.
        """
        if not isinstance(other, Trace):
            raise TypeError(
                f"first_difference compares with a Trace (Trace(events)), got {other!r}"
            )
        for index, (mine, theirs) in enumerate(zip(self._events, other._events, strict=False)):
            if mine != theirs:
                return index
        if len(self._events) != len(other._events):
            return min(len(self._events), len(other._events))
        return None
