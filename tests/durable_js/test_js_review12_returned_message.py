"""Review: JetStream, a message a restart cut off comes back as it was stored, not as changed."""

from __future__ import annotations

import pytest
import trio
from js_support import eventually, store_for

import trouper
from trouper.durable import Durable
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Stuck(trouper.Actor):
    """Pops the token from its first order, then waits until a restart cuts it off."""

    def __init__(self, seen: list[dict[str, object]]) -> None:
        self.seen = seen

    @trouper.handler
    async def order(self, message: dict) -> None:  # type: ignore[type-arg]
        self.seen.append(dict(message))
        message.pop("token")
        if len(self.seen) == 1:
            await trio.sleep_forever()


async def test_a_message_a_restart_cut_off_comes_back_as_it_was_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """The run cut off by the restart changed it; the next delivery gets it whole."""
    seen: list[dict[str, object]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Stuck, seen, name="stuck", mailbox=Durable(), shutdown=0.2)
        await ref.tell({"token": "t-1", "n": 1})
        await eventually(lambda: len(seen) == 1)
        await rt.restart(ref)
        await eventually(lambda: len(seen) == 2)
    assert seen == [{"token": "t-1", "n": 1}, {"token": "t-1", "n": 1}]
