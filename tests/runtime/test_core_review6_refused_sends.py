"""A send the engine refuses at once is not reported to the instruments as a send."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, MailboxFull, handler
from trouper.runtime.lowlevel import Cell, Instrument, Interception, SendKind


@attrs.frozen
class Note:
    tag: str


@attrs.frozen
class Hold:
    pass


@attrs.frozen
class Unknown:
    """A message no ``Held`` handler takes."""

    tag: str


class Held(Actor):
    """Holds its first ``Hold`` until the gate opens; takes ``Note``s."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @handler
    async def hold(self, message: Hold) -> None:
        await self.gate.wait()

    @handler
    async def note(self, message: Note) -> str:
        return message.tag


class Sends(Instrument):
    """Journals the ``Note``s and ``Unknown``s intercepted, sent and delivered, with their kind."""

    def __init__(self) -> None:
        self.journal: list[str] = []

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        if isinstance(message, Note | Unknown):
            self.journal.append(f"intercept {kind.value} {message.tag}")
        return None

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Note | Unknown):
            self.journal.append(f"sent {kind.value} {message.tag}")
        return None

    def message_delivered(self, actor: Cell, message: object) -> None:
        if isinstance(message, Note | Unknown):
            self.journal.append(f"delivered {message.tag}")


async def _full(rt: trouper.Runtime, gate: trio.Event) -> Cell:
    """A held actor whose one-message mailbox is full (of a ``Note``); its cell."""
    ref = await rt.spawn(Held, gate, mailbox_size=1)
    await ref.tell(Hold())
    await trio.testing.wait_all_tasks_blocked()
    ref.tell_nowait(Note("fill"))
    cell = ref.endpoint
    assert isinstance(cell, Cell)
    return cell


async def test_a_refused_tell_nowait_is_not_reported_as_sent() -> None:
    """``tell_nowait`` to a full mailbox raises ``MailboxFull`` and no send hook sees it."""
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        cell = await _full(rt, gate)
        sends = Sends()
        rt.instruments.add(sends)
        with pytest.raises(MailboxFull):
            cell.ref.tell_nowait(Note("refused"))
        assert sends.journal == []
        gate.set()


async def test_a_refused_ask_soon_is_not_reported_as_sent() -> None:
    """``Cell.ask_soon`` to a full mailbox raises ``MailboxFull`` and no send hook sees it."""
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        cell = await _full(rt, gate)
        sends = Sends()
        rt.instruments.add(sends)
        with pytest.raises(MailboxFull):
            cell.ask_soon(Note("refused"), lambda _: None)
        assert sends.journal == []
        gate.set()


async def test_an_accepted_tell_nowait_and_ask_soon_are_reported_once() -> None:
    """With room, both are intercepted, sent and delivered once, with their kind."""
    gate = trio.Event()
    gate.set()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Held, gate, mailbox_size=2)
        cell = ref.endpoint
        assert isinstance(cell, Cell)
        sends = Sends()
        rt.instruments.add(sends)
        ref.tell_nowait(Note("a"))
        cell.ask_soon(Note("b"), lambda _: None)
        assert sends.journal == [
            "intercept tell_nowait a",
            "sent tell_nowait a",
            "delivered a",
            "intercept ask b",
            "sent ask b",
            "delivered b",
        ]


async def test_an_ask_refused_at_once_is_not_reported_as_sent() -> None:
    """An ask with no handler, or to a stopped actor, raises before any send hook sees it."""
    gate = trio.Event()
    gate.set()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Held, gate)
        stopped = await rt.spawn(Held, gate)
        await rt.stop(stopped)
        cell = ref.endpoint
        assert isinstance(cell, Cell)
        sends = Sends()
        rt.instruments.add(sends)
        with pytest.raises(trouper.UnhandledMessage):
            await ref.ask(Unknown("x"))
        with pytest.raises(trouper.UnhandledMessage):
            cell.ask_soon(Unknown("y"), lambda _: None)
        with pytest.raises(trouper.ActorStopped):
            await stopped.ask(Note("gone"))
        assert sends.journal == []


@attrs.frozen
class AskSelf:
    """Ask the handling actor itself (an ask cycle)."""


class SelfAsker(Actor):
    """Asks itself from a handler, which ``AskCycle`` refuses; returns the error's type."""

    @handler
    async def ask_self(self, message: AskSelf) -> str:
        try:
            await self.ctx.self_ref.ask(Note("self"))
        except trouper.AskCycle as error:
            return type(error).__name__
        return "answered"

    @handler
    async def note(self, message: Note) -> str:
        return message.tag


async def test_an_ask_refused_as_a_cycle_is_not_reported_as_sent() -> None:
    """An ask ``AskCycle`` refuses raises before any send hook sees it."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(SelfAsker)
        sends = Sends()
        rt.instruments.add(sends)
        assert await ref.ask(AskSelf()) == "AskCycle"
        assert sends.journal == []
