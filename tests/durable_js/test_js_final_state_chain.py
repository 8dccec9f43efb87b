"""Final review: states of one actor staged while an older one is answered busy, again and again.

Once, a state sent again after a newer state of its actor went out waited
on that newer one, and states waiting on it were left waiting for ever when
it came to wait in turn (``flush`` hung, a handled message was never acked).
Since 391169e one state of an actor is in flight at a time: the states
staged meanwhile go as the newest once it has ended, and the older ones end
with it. A busy server must still end every batch.
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


async def test_states_staged_behind_a_busy_state_end_with_the_newest(
    js_server: NatsServer, prefix: str
) -> None:
    """s1 answered busy twice while s2 and s3 wait: s1 stored, then s3; every batch commits."""
    async with connect(js_server.url) as other:
        store = JetStreamStore(
            client=other, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with store:
            # The impostor alone answers the state publishes, when the test says.
            await other.jetstream().delete_stream(f"{prefix}_state")
            stored = b'{"stream":"%s_state","seq":1}' % prefix.encode()
            async with connect(js_server.url) as impostor:
                sub = await impostor.subscribe(f"{prefix}.state.>")
                await impostor.flush()
                store.stage(state(b"1"))
                sent = [await sub.next_msg()]
                store.stage(state(b"2"))
                store.stage(state(b"3"))
                for _ in range(2):
                    await sent[-1].respond(BUSY)
                    sent.append(await sub.next_msg())
                await sent[-1].respond(stored)
                sent.append(await sub.next_msg())
                await sent[-1].respond(stored)
                with trio.fail_after(10):
                    await store.flush()
                # s1 until stored (s2 and s3 wait: one state in flight), then only the newest.
                assert [m.data for m in sent] == [b"1", b"1", b"1", b"3"]
