"""Durable actors, reviewed: when a dead letter is posted, and an uncommittable handler fails."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable
from trouper.errors import HandlerError, UnencodableMessage
from trouper.runtime import ActorEvent, DeadLetter, EventKind


class OnlyCharges(trouper.Actor):
    """Takes charges only."""

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        pass


async def test_an_unhandled_durable_message_is_posted_once_after_its_move_commits(
    tmp_path: Path,
) -> None:
    """Guarantees 12 and 14: one DeadLetter, `no handler for int`, once the store holds it."""
    heard: list[tuple[str, object, list[str]]] = []

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:

        class Listener(trouper.Actor):
            @trouper.handler
            async def letter(self, message: DeadLetter) -> None:
                stored = [dead.reason async for dead in rt.store.dead_letters("c")]
                heard.append((message.recipient.path, message.reason, stored))

        rt.topics.subscribe(await rt.spawn(Listener), "trouper.system.dead_letters")
        ref = await rt.spawn(OnlyCharges, name="c", mailbox=Durable())
        await ref.tell(7)
        await trio.sleep(1)
    assert heard == [("/c", "no handler for int", ["no handler for int"])]


class Opaque:
    """Not a value the codec can store."""


@attrs.define
class Box:
    """Durable state that a handler can make unencodable."""

    total: int = 0
    extra: object = None


class Spoiler(trouper.Actor):
    """Adds each charge; a total of 0 leaves an unencodable value in the state."""

    state: Box

    def __init__(self, restarts: list[BaseException]) -> None:
        self.restarts = restarts

    async def on_restart(self, cause: BaseException) -> None:
        self.restarts.append(cause)

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.total += message.total
        if message.total == 0:
            self.state.extra = Opaque()
        return self.state.total


async def test_a_handler_whose_state_cannot_be_saved_fails_the_actor(tmp_path: Path) -> None:
    """Its supervisor hears FAILED and restarts it; the message is retried, then dead-lettered."""
    events: list[ActorEvent] = []
    restarts: list[BaseException] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED, EventKind.RESTARTED])
        ref = await rt.spawn(
            Spoiler, restarts, name="s", mailbox=Durable(max_deliveries=2, backoff=(3,))
        )
        assert await ref.ask(Charge("a", 5)) == 5
        with pytest.raises(HandlerError, match=r"cannot encode .*Box: field 'extra'"):
            await ref.ask(Charge("b", 0))
        await trio.sleep(10)
        assert await ref.ask(Charge("c", 1)) == 6
        (dead,) = [d async for d in rt.store.dead_letters("s")]
    assert [(e.kind, type(e.reason)) for e in events] == [
        (EventKind.FAILED, UnencodableMessage),
        (EventKind.RESTARTED, UnencodableMessage),
        (EventKind.FAILED, UnencodableMessage),
        (EventKind.RESTARTED, UnencodableMessage),
    ]
    assert [type(cause) for cause in restarts] == [UnencodableMessage, UnencodableMessage]
    assert (dead.attempts, dead.reason.endswith("(max_deliveries 2 reached)")) == (2, True)
    assert dead.last_delivered_at - dead.first_delivered_at == pytest.approx(3.0)  # type: ignore[operator]


class Replacer(trouper.Actor):
    """Replaces its state with a dict on a total of 0."""

    state: Box

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        if message.total == 0:
            self.state = {"total": 0}  # type: ignore[assignment]
        return message.total


async def test_a_handler_that_replaced_its_state_fails_the_actor(tmp_path: Path) -> None:
    """self.state replaced by another type is a failure of the actor, reported as one."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        ref = await rt.spawn(Replacer, name="r", mailbox=Durable(max_deliveries=1))
        await ref.tell(Charge("a", 0))
        await trio.sleep(1)
        assert await ref.ask(Charge("b", 7)) == 7
    assert [(e.kind, e.address.path, type(e.reason)) for e in events] == [
        (EventKind.FAILED, "/r", TypeError)
    ]
