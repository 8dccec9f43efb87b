"""Final review: a state publish that older states wait on, itself waiting on a newer one.

A state sent again after a newer state of its actor went out is not sent
(stored after it, it would undo it): it ends as the newer one ends. When
the one it then waits on had older states waiting on it already, those
were left waiting for ever: their batches never committed (``flush`` hung,
a handled message was never acked).
"""

from __future__ import annotations

import pytest
import trio

from trouper.durable import JetStreamStore, WriteBatch
from trouper.nats import connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

BUSY = b'{"error":{"code":503,"err_code":10039,"description":"jetstream not ready"}}'


def state(data: bytes) -> WriteBatch:
    """A batch saving the state ``k``."""
    batch = WriteBatch()
    batch.save_state("k", data)
    return batch


async def test_states_waiting_on_a_state_that_waits_on_a_newer_one_end_with_it(
    js_server: NatsServer, prefix: str
) -> None:
    """s1 waits on s2, then s2 waits on s3: s3 stored, the batches of s1 and s2 commit."""
    async with connect(js_server.url) as other:
        store = JetStreamStore(
            client=other, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with store:
            # The impostor alone answers the state publishes, when the test says.
            await other.jetstream().delete_stream(f"{prefix}_state")
            async with connect(js_server.url) as impostor:
                sub = await impostor.subscribe(f"{prefix}.state.>")
                await impostor.flush()
                store.stage(state(b"1"))
                s1 = await sub.next_msg()
                store.stage(state(b"2"))
                s2 = await sub.next_msg()
                # Both busy: s1, sent again after s2 went out, waits on s2; s2 is sent again.
                await s1.respond(BUSY)
                await s2.respond(BUSY)
                s2_again = await sub.next_msg()
                assert (s1.data, s2.data, s2_again.data) == (b"1", b"2", b"2")
                store.stage(state(b"3"))
                s3 = await sub.next_msg()
                # s2 busy again: sent again after s3 went out, it waits on s3 with s1.
                await s2_again.respond(BUSY)
                await impostor.flush()
                await s3.respond(b'{"stream":"%s_state","seq":1}' % prefix.encode())
                with trio.fail_after(10):
                    await store.flush()
