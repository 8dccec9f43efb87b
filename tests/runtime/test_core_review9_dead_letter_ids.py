"""Review 9: a tell with a ``msg_id`` that becomes a dead letter is the message, not an envelope."""

from __future__ import annotations

from typing import ClassVar

import attrs

import trouper
from trouper import Actor, handler
from trouper.runtime import DeadLetter
from trouper.runtime.lowlevel import MemoryMailbox


@attrs.frozen
class Charge:
    order: str


class Keeps(MemoryMailbox):
    """An in-memory mailbox that says it is durable: tells carry their ``msg_id`` into it."""

    __slots__ = ()
    durable: ClassVar[bool] = True


class KeepsFactory:
    def open_mailbox(self, runtime: trouper.Runtime, name: str | None, size: float) -> Keeps:
        return Keeps(size)


class Till(Actor):
    @handler
    async def charge(self, message: Charge) -> None:
        pass


async def test_a_tell_with_a_msg_id_to_a_stopped_actor_is_a_dead_letter_of_the_message() -> None:
    """``tell`` and ``tell_nowait`` alike: the dead letter holds what was told."""
    heard: list[DeadLetter] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Till, name="till", mailbox=KeepsFactory())
        await rt.stop(ref)
        with rt.dead_letters.listen(heard.append):
            assert not await ref.tell(Charge("a"), msg_id="1")
            assert not ref.tell_nowait(Charge("b"), msg_id="2")
    assert [(letter.message, letter.reason) for letter in heard] == [
        (Charge("a"), "actor stopped"),
        (Charge("b"), "actor stopped"),
    ]
