"""Review 17: a send that waits for room behind a full mailbox runs in its own caller's context.

The docs promise that what runs in Trio for a call runs in a copy of its
caller's ``contextvars`` context, so that instruments see a request's id on
its messages. A tell or ask that finds its actor's mailbox full waits in the
actor's lane, which one Trio task serves in order: each message it sends must
still be seen in the context of the task that sent it, not in the context of
the caller whose message happened to start the lane.
"""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from aio_actors import Gates, Hold, Holder, Note, run

from trouper.aio import AioRef, AioRuntime, open_runtime
from trouper.routing import RoundRobin
from trouper.runtime.lowlevel import Cell, Instrument, SendKind

pytestmark = pytest.mark.real_clock

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


class SentWith(Instrument):
    """Records, for each ``Note`` sent, the ``request_id`` of the context it was sent in."""

    def __init__(self, seen: list[tuple[str, str]]) -> None:
        self.seen = seen

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Note):
            self.seen.append((message.tag, REQUEST_ID.get("-")))
        return None


async def send(holder: AioRef[object], request: str, how: str) -> None:
    """Send ``Note(request)`` as the request ``request`` would."""
    REQUEST_ID.set(request)
    if how == "ask":
        assert await holder.ask(Note(request)) == request
    else:
        assert await holder.tell(Note(request)) is True


async def spawn_holder(rt: AioRuntime, gates: Gates, target: str) -> AioRef[object]:
    """A ``Holder`` with room for one message: an actor, or the one member of a pool."""
    if target == "actor":
        return await rt.spawn(Holder, gates.started, gates.gate, [], mailbox_size=1)
    return await rt.spawn_pool(
        Holder, 1, gates.started, gates.gate, [], router=RoundRobin(), mailbox_size=1
    )


@pytest.mark.parametrize("target", ["actor", "pool"])
def test_sends_waiting_in_a_lane_are_seen_in_their_own_callers_context(target: str) -> None:
    """Three requests wait for room behind one full mailbox: each message is seen as its own."""
    seen: list[tuple[str, str]] = []

    async def main() -> None:
        async with open_runtime() as rt:
            await rt.run_sync(rt.runtime.instruments.add, SentWith(seen))
            gates = await Gates.make(rt)
            holder = await spawn_holder(rt, gates, target)
            gates.held = asyncio.create_task(holder.ask(Hold()))
            await gates.wait_started(rt)
            await send(holder, "fill", "tell")  # the mailbox is full from here on
            senders = [
                asyncio.create_task(send(holder, "r1", "tell")),  # starts the lane
                asyncio.create_task(send(holder, "r2", "tell")),
                asyncio.create_task(send(holder, "r3", "ask")),
            ]
            await asyncio.sleep(0)  # each has queued its send, in that order
            await gates.open(rt)
            await asyncio.gather(*senders)

    run(main, within=5)
    assert seen == [(request, request) for request in ("fill", "r1", "r2", "r3")]
