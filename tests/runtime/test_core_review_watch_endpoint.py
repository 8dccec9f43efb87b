"""Review fix: watching a ref whose endpoint cannot be watched fails at once and leaves no trace."""

from __future__ import annotations

import attrs

import trouper
from trouper import Actor, ActorRef, Address, handler


class Unwatchable:
    """An endpoint that delivers nowhere and has no ``watch`` / ``unwatch``."""

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        return False

    async def ask(self, message: object) -> object:
        return None


@attrs.frozen
class Watch:
    ref: ActorRef[object]


class Watcher(Actor):
    """Watches the ref it is asked to; replies with the error ``ctx.watch`` raised."""

    @handler
    async def watch(self, message: Watch) -> str:
        try:
            self.ctx.watch(message.ref)
        except TypeError as error:
            return str(error)
        return "watching"


async def test_watching_an_endpoint_without_watch_raises_and_the_stop_goes_on() -> None:
    """``ctx.watch`` raises ``TypeError``; the watcher's own stop later is clean."""
    ref: ActorRef[object] = ActorRef(Address("elsewhere", "/thing"), Unwatchable())  # type: ignore[arg-type]
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Watcher)
        answer = await watcher.ask(Watch(ref))
        assert answer == f"{ref!r} cannot be watched: its endpoint does not support watching"
        events: list[trouper.ActorEvent] = []
        rt.events.listen(events.append)
        await rt.stop(watcher)
        assert [event.kind for event in events] == [trouper.EventKind.STOPPED]
        assert events[0].reason is None
