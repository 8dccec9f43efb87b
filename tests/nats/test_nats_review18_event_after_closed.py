"""Review 18: no event reaches ``on_event`` after ``Closed``.

``close()`` cancels the reader, but a reader that yielded part way through a
large receive (it yields every so many messages) finishes that batch first.
A non-fatal ``-ERR`` later in the batch was reported as ``AsyncError`` after
``Closed``, breaking the rule that ``Closed`` is the last event.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from nats_fake import connected, fake_server, msg_frame

from trouper.nats import ClientEvent, Closed, Msg

pytestmark = pytest.mark.real_clock


async def test_an_err_the_reader_meets_after_close_is_not_reported() -> None:
    """A -ERR behind many messages in the receive that a close interrupts: Closed stays last."""
    events: list[ClientEvent] = []
    closed = trio.Event()

    def on_event(event: ClientEvent) -> None:
        events.append(event)
        if isinstance(event, Closed):
            closed.set()

    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=on_event) as (nc, peer),
            trio.open_nursery() as nursery,
        ):

            def close_at_first(msg: Msg) -> None:
                if msg.data == b"0":
                    nursery.start_soon(nc.close)

            sub = await nc.subscribe("many", callback=close_at_first)
            await peer.read_until("SUB many")
            # One send: the reader takes it in one receive and yields between
            # the messages, which is when close() runs.
            batch = b"".join(msg_frame("many", sub.sid, str(i).encode()) for i in range(1024))
            refusal = b"-ERR 'Permissions Violation for Subscription to \"elsewhere\"'\r\n"
            await peer.send(batch + refusal)
            await closed.wait()
            await trio.testing.wait_all_tasks_blocked()  # (the reader ends its batch)
    assert [type(event) for event in events] == [Closed]
