"""Review: a send a balancing pool refuses at once is not reported to the instruments as a send.

As the engine's cells do since review 6: ``tell_nowait`` and callback asks
to a full shared mailbox, and callback asks the pool refuses (stopped, no
handler), raise before the send hooks, which see only sends that happen.
Review 7: so does an ``ask`` the pool refuses (stopped, no handler, an ask
cycle); it went through ``intercept_send`` first.
"""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, MailboxFull, handler
from trouper.errors import ActorStopped, AskCycle, UnhandledMessage
from trouper.routing import Balancing
from trouper.runtime.lowlevel import Cell, Instrument, Interception, SendKind, SharingEndpoint


@attrs.frozen
class Hold:
    """Wait until the event is set."""

    event: trio.Event


@attrs.frozen
class Note:
    tag: str


@attrs.frozen
class Stray:
    """What no member takes."""

    tag: str


@attrs.frozen
class AskPool:
    """Ask the member's own pool ``Note(tag)``; reply with the ``AskCycle`` it raises."""

    tag: str


class Member(Actor):
    """Holds on ``Hold``, answers a ``Note`` with its tag."""

    @handler
    async def ask_pool(self, message: AskPool) -> object:
        pool = self.ctx.parent
        assert pool is not None
        try:
            return await pool.ask(Note(message.tag))
        except AskCycle as cycle:
            return type(cycle).__name__

    @handler
    async def hold(self, message: Hold) -> None:
        await message.event.wait()

    @handler
    async def note(self, message: Note) -> str:
        return message.tag


class Sends(Instrument):
    """Journals the ``Note``s and ``Stray``s intercepted and sent, with their kind."""

    def __init__(self) -> None:
        self.journal: list[str] = []

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        if isinstance(message, Note | Stray):
            self.journal.append(f"intercept {kind.value} {message.tag}")
        return None

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Note | Stray):
            self.journal.append(f"sent {kind.value} {message.tag}")
        return None


async def _full_pool(rt: trouper.Runtime, release: trio.Event) -> trouper.ActorRef[object]:
    """A balancing pool of one busy member whose one-message shared mailbox is full."""
    pool = await rt.spawn_pool(Member, 1, router=Balancing(), mailbox_size=1, name="pool")
    pool.tell_nowait(Hold(release))
    await trio.testing.wait_all_tasks_blocked()
    pool.tell_nowait(Note("fill"))
    endpoint = pool.endpoint
    assert isinstance(endpoint, SharingEndpoint)
    assert endpoint.shared_mailbox_full()
    return pool


async def test_a_refused_tell_nowait_to_a_pool_is_not_reported_as_sent() -> None:
    """``tell_nowait`` to a full shared mailbox raises ``MailboxFull``; no send hook sees it."""
    release = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await _full_pool(rt, release)
        sends = Sends()
        rt.instruments.add(sends)
        with pytest.raises(MailboxFull):
            pool.tell_nowait(Note("refused"))
        assert sends.journal == []
        release.set()


async def test_a_refused_callback_ask_to_a_pool_is_not_reported_as_sent() -> None:
    """A callback ask to a full shared mailbox, or that no member takes, is refused unseen."""
    release = trio.Event()
    async with trouper.open_runtime() as rt:
        endpoint = (await _full_pool(rt, release)).endpoint
        assert hasattr(endpoint, "ask_soon")
        sends = Sends()
        rt.instruments.add(sends)
        with pytest.raises(MailboxFull):
            endpoint.ask_soon(Note("refused"), lambda _: None)
        with pytest.raises(UnhandledMessage):
            endpoint.ask_soon(Stray("unhandled"), lambda _: None)
        assert sends.journal == []
        release.set()


async def test_an_accepted_tell_nowait_and_callback_ask_to_a_pool_are_reported() -> None:
    """With room, each goes through the hooks once, with its kind."""
    release = trio.Event()
    release.set()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 1, router=Balancing(), mailbox_size=4, name="pool")
        endpoint = pool.endpoint
        assert hasattr(endpoint, "ask_soon")
        sends = Sends()
        rt.instruments.add(sends)
        pool.tell_nowait(Note("a"))
        endpoint.ask_soon(Note("b"), lambda _: None)
        assert await pool.ask(Note("c")) == "c"
        assert sends.journal == [
            "intercept tell_nowait a",
            "sent tell_nowait a",
            "intercept ask b",
            "sent ask b",
            "intercept ask c",
            "sent ask c",
        ]
        await trio.testing.wait_all_tasks_blocked()


async def test_an_ask_a_pool_refuses_is_not_reported_as_sent() -> None:
    """An ask that no member takes, to a stopped pool, or that would be a cycle raises unseen."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 1, router=Balancing(), name="pool")
        sends = Sends()
        rt.instruments.add(sends)
        with pytest.raises(UnhandledMessage):
            await pool.ask(Stray("unhandled"))
        # The only member asking its own pool: nobody could ever take the ask.
        assert await pool.ask(AskPool("cycle")) == "AskCycle"
        await rt.stop(pool)
        with pytest.raises(ActorStopped):
            await pool.ask(Note("stopped"))
        assert sends.journal == []
