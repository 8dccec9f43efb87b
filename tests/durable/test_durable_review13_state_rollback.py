"""Review 13: a failed delivery rolls durable state back to what was there when it started.

What the handler of a message that is no stored delivery (a ``Terminated``)
changed in ``self.state`` is saved with the next ack, and is not the failed
handler's to undo: it was rolled back to the last saved state, and lost.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, GiveUp, Retry


@attrs.define
class Watching:
    """Durable state: the actors seen to stop, and the charges counted."""

    gone: list[str] = attrs.Factory(list)
    charges: int = 0


class Quiet(trouper.Actor):
    """An in-memory actor to watch."""


class Watcher(trouper.Actor):
    """Records in its state who stopped; a charge of 0 retries (or gives up) after changing it."""

    state: Watching

    def __init__(self, other: trouper.ActorRef[object], retry: bool) -> None:
        self.other = other
        self.retry = retry

    async def on_start(self) -> None:
        self.ctx.watch(self.other)

    @trouper.handler
    async def terminated(self, message: trouper.Terminated) -> None:
        self.state.gone.append(message.ref.address.path)

    @trouper.handler
    async def charge(self, message: Charge) -> Watching:
        self.state.charges += 100 if message.total == 0 else 1
        if message.total == 0 and self.ctx.delivery.attempt == 1:
            if self.retry:
                raise Retry(after=1.0)
            raise GiveUp("not now")
        return attrs.evolve(self.state, gone=list(self.state.gone))


@pytest.mark.parametrize("retry", [True, False])
async def test_a_failed_delivery_keeps_what_a_terminated_handler_changed(
    tmp_path: Path, retry: bool
) -> None:
    """Its change stays through a Retry or GiveUp (no restart) and is saved with the next ack."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        other = await rt.spawn(Quiet, name="other")
        ref = await rt.spawn(Watcher, other, retry, name="w", mailbox=Durable(backoff=(1.0,)))
        assert await ref.ask(Charge("a", 1)) == Watching([], 1)
        await rt.stop(other)
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell(Charge("b", 0))  # changes the state, then retries or gives up
        await trio.sleep(0.5)
        assert await ref.ask(Charge("c", 1)) == Watching(["/other"], 2)
        await trio.sleep(1)  # b again if retried, handled
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        other = await rt.spawn(Quiet, name="other")
        ref = await rt.spawn(Watcher, other, retry, name="w", mailbox=Durable())
        charges = 103 if retry else 3
        assert await ref.ask(Charge("d", 1)) == Watching(["/other"], charges)
