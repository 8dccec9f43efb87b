"""Actors the topics tests share."""

from __future__ import annotations

import trio
import trio.testing

from trouper import Actor, ActorRef, Runtime
from trouper.routing import Broadcast, members


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


class Journaling(Actor):
    """Journals ``(its path, message)``; ``"busy"`` holds it until ``gate`` is set.

    Its start takes 1 s (virtual) when it is member number ``slow_starts`` of a pool.
    """

    def __init__(
        self, gate: trio.Event, journal: list[tuple[str, object]], slow_starts: int = 0
    ) -> None:
        self.gate = gate
        self.journal = journal
        self.slow_starts = slow_starts

    async def on_start(self) -> None:
        if self.ctx.self_ref.address.path.endswith(f"member-{self.slow_starts}"):
            await trio.sleep(1)  # the pool's handler (a Resize) waits on this start

    async def receive(self, message: object) -> None:
        if message == "busy":
            await self.gate.wait()
        self.journal.append((self.ctx.self_ref.address.path, message))


async def held_broadcast_pool(
    runtime: Runtime, gate: trio.Event, journal: list[tuple[str, object]]
) -> ActorRef[object]:
    """A two-member broadcast pool whose member-2 is busy (until ``gate``) with a full mailbox."""
    pool = await runtime.spawn_pool(
        Journaling, 2, gate, journal, router=Broadcast(), name="pool", mailbox_size=1
    )
    _, second = await members(pool)
    await second.tell("busy")
    await trio.testing.wait_all_tasks_blocked()
    await second.tell("full")
    return pool
