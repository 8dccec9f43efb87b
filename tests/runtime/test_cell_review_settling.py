"""The cell and a settling mailbox, reviewed: an uncommittable handled item, an unhandled one."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import HandlerError
from trouper.runtime import ActorEvent, EventKind
from trouper.runtime.lowlevel import MailboxEnding, MemoryMailbox, message_of


@attrs.frozen
class Note:
    text: str


class Worker(Actor):
    """Upper-cases notes; counts its restarts."""

    def __init__(self, restarts: list[str]) -> None:
        self.restarts = restarts

    async def on_restart(self, cause: BaseException) -> None:
        self.restarts.append(str(cause))

    @handler
    async def note(self, message: Note) -> str:
        return message.text.upper()


class Refusing(MemoryMailbox):
    """Settles every item, and cannot commit a handled note whose text is ``"bad"``."""

    settles = True

    def __init__(self, size: float) -> None:
        super().__init__(size)
        self.endings: list[tuple[object, MailboxEnding, str | None]] = []

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        message = message_of(item)
        if ending is MailboxEnding.HANDLED and message == Note("bad"):
            raise ValueError("cannot commit")
        self.endings.append((message, ending, None if error is None else str(error)))
        return False


class Refusals:
    """A mailbox factory: one ``Refusing`` mailbox per actor, kept."""

    def __init__(self) -> None:
        self.opened: dict[str | None, Refusing] = {}

    def open_mailbox(self, runtime: trouper.Runtime, name: str | None, size: float) -> Refusing:
        mailbox = self.opened[name] = Refusing(size)
        return mailbox


async def test_a_handled_item_the_mailbox_cannot_commit_fails_the_actor() -> None:
    """settle(HANDLED) raising: the item is settled FAILED, the asker and supervisor hear it."""
    factory = Refusals()
    events: list[ActorEvent] = []
    restarts: list[str] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        ref = await rt.spawn(Worker, restarts, name="w", mailbox=factory)
        with pytest.raises(HandlerError, match=r"cannot commit") as caught:
            await ref.ask(Note("bad"))
        assert isinstance(caught.value.__cause__, ValueError)
        assert await ref.ask(Note("ok")) == "OK"
    assert factory.opened["w"].endings == [
        (Note("bad"), MailboxEnding.FAILED, "cannot commit"),
        (Note("ok"), MailboxEnding.HANDLED, None),
    ]
    assert [(e.address.path, str(e.reason)) for e in events] == [("/w", "cannot commit")]
    assert restarts == ["cannot commit"]


async def test_a_settling_mailbox_owns_the_dead_letter_of_an_unhandled_item() -> None:
    """No handler takes it: settled FAILED with no error, and the cell posts no DeadLetter."""
    factory = Refusals()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, [], name="w", mailbox=factory)
        await ref.tell(7)
        await trio.testing.wait_all_tasks_blocked()
        assert list(rt.dead_letters.recent) == []
    assert factory.opened["w"].endings == [(7, MailboxEnding.FAILED, None)]
