"""A handler whose new state cannot be stored has failed, on JetStream as on SQLite."""

from __future__ import annotations

import attrs
import pytest
from js_support import Job, eventually, store_for

import trouper
from trouper import ActorEvent, EventKind
from trouper.durable import Durable
from trouper.errors import HandlerError, UnencodableMessage
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Opaque:
    """Not a value the codec can store."""


@attrs.define
class Box:
    """Durable state that a handler can make unencodable."""

    total: int = 0
    extra: object = None


class Spoiler(trouper.Actor):
    """Adds each job; a job 0 leaves an unencodable value in the state."""

    state: Box

    def __init__(self, restarts: list[BaseException]) -> None:
        self.restarts = restarts

    async def on_restart(self, cause: BaseException) -> None:
        self.restarts.append(cause)

    @trouper.handler
    async def job(self, message: Job) -> int:
        self.state.total += message.n
        if message.n == 0:
            self.state.extra = Opaque()
        return self.state.total


async def test_a_handler_whose_state_cannot_be_saved_fails_the_actor(
    js_server: NatsServer, prefix: str
) -> None:
    """Its supervisor hears FAILED and restarts it; the message is retried, then dead-lettered."""
    events: list[ActorEvent] = []
    restarts: list[BaseException] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        ref = await rt.spawn(
            Spoiler, restarts, name="s", mailbox=Durable(max_deliveries=2, backoff=(0.2,))
        )
        assert await ref.ask(Job(5)) == 5
        with pytest.raises(HandlerError, match=r"cannot encode .*Box: field 'extra'"):
            await ref.ask(Job(0))

        async def buried() -> bool:
            return bool([d async for d in rt.store.dead_letters("s")])

        await eventually(buried)
        assert await ref.ask(Job(1)) == 6
        (dead,) = [d async for d in rt.store.dead_letters("s")]
    assert [(e.kind, type(e.reason)) for e in events] == [
        (EventKind.FAILED, UnencodableMessage),
        (EventKind.FAILED, UnencodableMessage),
    ]
    assert [type(cause) for cause in restarts] == [UnencodableMessage, UnencodableMessage]
    assert (dead.attempts, dead.reason.endswith("(max_deliveries 2 reached)")) == (2, True)
