"""Dead letters whose message holds a ref are listed with a ref that works in the runtime."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio
from durable_support import sqlite

import trouper
from trouper.durable import Durable, GiveUp


@trouper.message("test.durable.quote")
@attrs.frozen
class Quote:
    """A request whose answer goes to ``reply_to``."""

    item: str
    reply_to: trouper.ActorRef[object]


class Recorder(trouper.Actor):
    """Records each string it is told."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @trouper.handler
    async def text(self, message: str) -> None:
        self.got.append(message)


class NoQuotes(trouper.Actor):
    """Gives up on every quote."""

    @trouper.handler
    async def quote(self, message: Quote) -> None:
        raise GiveUp(f"no price for {message.item}")


async def test_a_dead_letter_holding_a_ref_is_listed_with_a_usable_ref(tmp_path: Path) -> None:
    """rt.store.dead_letters decodes the reply-to ref, and telling it reaches the actor."""
    got: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        recorder = await rt.spawn(Recorder, got, name="recorder")
        pricer = await rt.spawn(NoQuotes, name="pricer", mailbox=Durable())
        await pricer.tell(Quote("tea", recorder))
        await trio.sleep(1)
        (dead,) = [dead async for dead in rt.store.dead_letters("pricer")]
        assert dead.message == Quote("tea", recorder)
        assert isinstance(dead.message, Quote)
        await dead.message.reply_to.tell("sorry")
        await trio.sleep(1)
    assert (dead.reason, got) == ("gave up: no price for tea", ["sorry"])
