"""Review 5: a mailbox stream's ``max_msg_size`` lowered while the store is open refuses one tell.

``check_tell`` refused a message too large for the server's ``max_payload``
alone, but knew nothing of a ``max_msg_size`` an operator set on the
mailbox's stream after the store opened: the server then refused the one
message at the commit, and with it the whole batch the tells of that pass
shared. An awaited tell raised about another sender's message (its own
stored all the same), a ``tell_nowait`` was lost with a log line. The store
now follows the stream's limit (the server's advisory of the update, or the
first refusal) and refuses a tell over it alone, naming the limit.
"""

from __future__ import annotations

import contextlib

import attrs
import pytest
import trio
from js_support import Done, Job, eventually, store_for

import trouper
from trouper.durable import Durable, JetStreamStore
from trouper.errors import StoreRefused
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

LARGE = "x" * 500
"""Over the lowered limit of 300 bytes, far below the server's max_payload."""


class Keeper(trouper.Actor):
    """Keeps what it is told."""

    def __init__(self, got: list[object]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.got.append(message)

    @trouper.handler
    async def done(self, message: Done) -> None:
        self.got.append(message)


async def lower_the_limit(store: JetStreamStore, ref: trouper.ActorRef[object]) -> None:
    """Set the mailbox's stream's ``max_msg_size`` to 300, as an operator would, and wait
    until a large ``tell_nowait`` is refused at once (the store saw the change)."""
    js = store.client.jetstream()
    info = await js.stream_info(store.stream_name("jobs"))
    await js.update_stream(attrs.evolve(info.config, max_msg_size=300))

    async def refused_at_once() -> bool:
        try:
            ref.tell_nowait(Done(0, LARGE))
        except StoreRefused:
            return True
        with contextlib.suppress(StoreRefused):
            await store.flush()
        return False

    await eventually(refused_at_once)


async def test_a_tell_over_a_lowered_max_msg_size_is_refused_alone_naming_the_limit(
    js_server: NatsServer, prefix: str
) -> None:
    """The awaited large tell raises, naming the stream's limit; the earlier tell_nowait is kept."""
    got: list[object] = []
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        await lower_the_limit(store, ref)
        with trio.fail_after(5):
            ref.tell_nowait(Job(1))
            with pytest.raises(
                StoreRefused,
                match=r"a message for the durable mailbox 'jobs': a message of \d+ bytes with "
                r"its headers is over the max_msg_size of 300 bytes of its stream "
                rf"{store.stream_name('jobs')}",
            ):
                await ref.tell(Done(2, LARGE))  # staged in the same pass as Job(1)
            await eventually(lambda: got)
            await rt.store.flush()
        assert not rt.store.statistics().failed
    assert got == [Job(1)]


async def test_a_tell_sharing_a_pass_with_a_tell_nowait_over_the_limit_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """The large tell_nowait raises itself; the awaited tell after it returns and is delivered."""
    got: list[object] = []
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        await lower_the_limit(store, ref)
        with trio.fail_after(5):
            with contextlib.suppress(StoreRefused):
                ref.tell_nowait(Done(2, LARGE))
            await ref.tell(Job(3))  # staged in the same pass: no checkpoint in between
            await eventually(lambda: got)
    assert got == [Job(3)]
