"""A tell from another node that its endpoint refuses on arrival is a dead letter there, alone."""

from __future__ import annotations

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for

from trouper import Actor, handler
from trouper.remote import Nats, cluster_of
from trouper.routing import ConsistentHash
from trouper.runtime import DeadLetter, DeadLetterReason

pytestmark = pytest.mark.real_clock


def shard(message: object) -> object:
    """A key that knows two texts only: any other note fails to route."""
    assert isinstance(message, Note)
    return {"a": 1, "b": 2}[message.text]


class GatedNotes(Actor):
    """Records the text of each ``Note`` once ``gate`` is set (``started``: the first waits)."""

    def __init__(self, started: trio.Event, gate: trio.Event, seen: list[str]) -> None:
        self.started = started
        self.gate = gate
        self.seen = seen

    @handler
    async def note(self, message: Note) -> None:
        self.started.set()
        await self.gate.wait()
        self.seen.append(message.text)


async def test_a_tell_whose_key_fails_is_a_dead_letter_and_the_rest_of_its_burst_arrives(
    transport: Nats,
) -> None:
    """One bad key in a burst of tells costs that tell alone, as a "delivery failed" dead letter."""
    seen: list[str] = []
    letters: list[DeadLetter] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        bank.dead_letters.listen(letters.append)
        await bank.spawn_pool(Notes, 2, seen, router=ConsistentHash(shard), name="pool")
        pool = web.remote("bank", "pool")
        for text in ["a", "bad", "b"]:  # one burst: one NATS message
            await pool.tell(Note(text))
        with trio.fail_after(10):
            await wait_for(lambda: len(seen) + len(letters) >= 3)
    assert sorted(seen) == ["a", "b"]
    [letter] = letters
    assert (letter.message, letter.reason) == (Note("bad"), DeadLetterReason.DELIVERY_FAILED)
    assert isinstance(letter.error, KeyError)


async def test_a_held_tell_whose_key_fails_is_a_dead_letter_and_the_node_carries_on(
    transport: Nats,
) -> None:
    """Held for a full mailbox, a bad key fails that tell alone, not the receiving node."""
    seen: list[str] = []
    letters: list[DeadLetter] = []
    started, gate = trio.Event(), trio.Event()
    async with nodes(transport, "web", "bank") as (web, bank):
        bank.dead_letters.listen(letters.append)
        await bank.spawn_pool(
            GatedNotes,
            1,
            started,
            gate,
            seen,
            router=ConsistentHash(shard),
            name="pool",
            mailbox_size=1,
        )
        pool = web.remote("bank", "pool")
        with trio.fail_after(10):
            await pool.tell(Note("a"))  # taken, and waits at the gate
            await started.wait()
            for text in ["a", "a", "bad", "b"]:  # the mailbox holds 1: the rest is held
                await pool.tell(Note(text))
            await wait_for(lambda: cluster_of(bank).statistics().held == 3)
            gate.set()
            await wait_for(lambda: len(seen) == 4)
    assert seen == ["a", "a", "a", "b"]
    [letter] = letters
    assert (letter.message, letter.reason) == (Note("bad"), DeadLetterReason.DELIVERY_FAILED)
    assert isinstance(letter.error, KeyError)
