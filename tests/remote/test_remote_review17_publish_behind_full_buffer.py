"""Behind a full write buffer, a tell or an ask made after a publish does not overtake it.

The outbox keeps one open batch per actor that later tells join (and an ask
ends). While the connection's write buffer was full, a tell's batch stayed
open, queued, behind which a topic publish was queued: a tell (or an ask) to
the same actor made after the publish joined that earlier batch, so an actor
both told and subscribed got it before the publish, where one process (and a
node whose buffer has room) keeps the order they were sent in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

import pytest
import trio
import trio.testing
from remote_support import Balance, Note, Notes, nodes, wait_for
from test_remote_review_full_buffer import CHUNK, Chunk, paused

import trouper.nats
from trouper import ActorRef, Runtime
from trouper.errors import MailboxFull
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@asynccontextmanager
async def _behind_a_full_buffer(
    server: NatsServer, prefix: str, seen: list[object]
) -> AsyncIterator[tuple[Runtime, ActorRef[object], ExitStack]]:
    """Nodes ``web`` and ``bank`` (a ``Notes`` on ``news.>``), the server paused, web's buffer full.

    Yields web, its ref to bank's notes, and the pause (close it to resume).
    web's write buffer is filled with tells to a node ``ghost`` (a bare client
    that beat once), which is then found gone: its tells leave web's outbox,
    which is empty, while the write buffer stays full.
    """
    transport = Nats(server.url, prefix=prefix, heartbeat=30.0)
    with ExitStack() as pause:
        async with (
            nodes(transport, "web", "bank") as (web, bank),
            trouper.nats.connect(server.url) as ghost,
        ):
            notes = await bank.spawn(Notes, seen, name="notes")
            bank.topics.subscribe(notes, "news.>")
            cluster = cluster_of(web)
            ref = web.remote("bank", "notes")
            with trio.fail_after(20):
                await ref.tell(Note("warm-up"))
                await wait_for(lambda: seen == ["warm-up"])
                seen.clear()
                await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", "ab" * 8, 0.5]))
                await wait_for(lambda: "ghost" in cluster.nodes())
                pause.enter_context(paused(server))
                lost = web.remote("ghost", "sink")
                while True:  # until the outbox is full: the write buffer refused what it holds
                    try:
                        assert lost.tell_nowait(Chunk(bytes(CHUNK))), "ghost gone too soon"
                    except MailboxFull:
                        break
                    await trio.testing.wait_all_tasks_blocked()  # the outbox publishes it
                await wait_for(lambda: "ghost" not in cluster.nodes())  # its tells dropped
                yield web, ref, pause


async def test_a_tell_after_a_publish_reaches_the_actor_after_it(
    own_server: NatsServer, prefix: str
) -> None:
    """Told, published, told again, all behind a full buffer: the actor sees that order."""
    seen: list[object] = []
    async with _behind_a_full_buffer(own_server, prefix, seen) as (web, ref, pause):
        await ref.tell(Note("told 1"))
        await web.topics.publish("news.today", Note("published"))
        await ref.tell(Note("told 2"))
        pause.close()
        with trio.fail_after(20):
            await wait_for(lambda: len(seen) == 3)
    assert seen == ["told 1", "published", "told 2"]


async def test_an_ask_after_a_publish_reaches_the_actor_after_it(
    own_server: NatsServer, prefix: str
) -> None:
    """Told, published, asked, all behind a full buffer: the ask is handled last."""
    seen: list[object] = []
    async with _behind_a_full_buffer(own_server, prefix, seen) as (web, ref, pause):
        await ref.tell(Note("told"))
        await web.topics.publish("news.today", Note("published"))
        pause.close()
        with trio.fail_after(20):
            assert await ref.ask(Balance()) is None
    assert seen == ["told", "published", Balance()]
