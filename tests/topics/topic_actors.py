"""Actors the topics tests share."""

from __future__ import annotations

import trio

from trouper import Actor, ActorRef, Runtime


class Collector(Actor):
    """Appends every message to a list shared across its restarts; fails on ``"boom"``."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def receive(self, message: object) -> None:
        if message == "boom":
            raise ValueError("boom")
        self.seen.append(message)


class Gated(Actor):
    """Holds each message until ``gate`` is set, then appends it to ``seen``."""

    def __init__(self, gate: trio.Event, seen: list[object]) -> None:
        self.gate = gate
        self.seen = seen

    async def receive(self, message: object) -> None:
        await self.gate.wait()
        self.seen.append(message)


class NamedGated(Actor):
    """Journals ``(name, message)`` once ``gate`` is set."""

    def __init__(self, name: str, gate: trio.Event, journal: list[tuple[str, object]]) -> None:
        self.name = name
        self.gate = gate
        self.journal = journal

    async def receive(self, message: object) -> None:
        await self.gate.wait()
        self.journal.append((self.name, message))


class Idle(Actor):
    """Takes anything."""

    async def receive(self, message: object) -> None:
        pass


async def publish_counted(
    runtime: Runtime, counts: list[int], subject: str, message: object
) -> None:
    """Publish ``message`` on ``subject`` and append how many subscribers it reached."""
    counts.append(await runtime.topics.publish(subject, message))


async def spawn_held(
    runtime: Runtime, name: str, gate: trio.Event, journal: list[tuple[str, object]]
) -> ActorRef[object]:
    """Spawn a ``NamedGated`` with a full mailbox of one: "busy" held by ``gate``, "full" queued."""
    ref = await runtime.spawn(NamedGated, name, gate, journal, mailbox_size=1)
    await ref.tell("busy")
    await ref.tell("full")
    return ref
