"""An ask that waited for room in a full outbox fails as any ask does when no reply can come."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import trio
import trio.testing
from remote_support import Balance, nodes, wait_for
from test_remote_review_full_buffer import CHUNK, Chunk, paused
from test_remote_review_notices import Journal

import trouper
import trouper.nats
from trouper.errors import NodeUnreachable
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def _ignore(msg: Msg) -> None:
    """A stalled node's callback: it takes everything and answers nothing."""


async def test_an_ask_waiting_for_room_fails_when_its_node_is_found_gone_meanwhile(
    own_server: NatsServer, prefix: str
) -> None:
    """The node went silent while the ask waited: NodeUnreachable, not a request nobody answers."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    outcomes: list[BaseException | object] = []
    with ExitStack() as pause:
        async with (
            trio.open_nursery() as nursery,
            nodes(transport, "web") as (web,),
            trouper.nats.connect(own_server.url) as bank,
        ):
            # A node "bank" that beat once and then stalled: still subscribed, never answering.
            await bank.subscribe(f"{prefix}.actor.bank.>", callback=_ignore)
            await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", "ab" * 8, 1.0]))
            cluster = cluster_of(web)
            target = web.remote("bank", "acct")

            async def tell_until_refused() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass

            async def ask() -> None:
                try:
                    outcomes.append(await target.ask(Balance()))
                except NodeUnreachable as error:
                    outcomes.append(error)

            with trio.fail_after(20):
                await wait_for(lambda: "bank" in cluster.nodes())
                pause.enter_context(paused(own_server))
                nursery.start_soon(tell_until_refused)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                nursery.start_soon(ask)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the ask waits for room
                await wait_for(lambda: "bank" not in cluster.nodes())
                await wait_for(lambda: outcomes != [])  # woken by it (review3_full_outbox)
                pause.close()
    [error] = outcomes
    assert isinstance(error, NodeUnreachable)
    assert str(error) == (
        "actor trouper://bank/acct is unreachable: node 'bank' sent no heartbeat for 2 s"
    )


async def test_an_ask_waiting_for_room_when_its_own_node_leaves_says_so(
    own_server: NatsServer, prefix: str
) -> None:
    """Woken by the leave, the ask fails with the leave as its reason, not a cut connection."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    outcomes: list[BaseException | object] = []
    with ExitStack() as pause, trio.fail_after(20):
        async with trio.open_nursery() as nursery, nodes(transport, "web", "bank") as (web, _):
            target = web.remote("bank", "acct")

            async def tell_until_refused() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass
                pause.close()  # let the server read again: the node can leave now

            async def ask() -> None:
                try:
                    outcomes.append(await target.ask(Balance()))
                except NodeUnreachable as error:
                    outcomes.append(error)

            pause.enter_context(paused(own_server))
            nursery.start_soon(tell_until_refused)
            await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked(0.2)  # the ask waits for room
    [error] = outcomes
    assert isinstance(error, NodeUnreachable)
    assert str(error) == (
        "actor trouper://bank/acct is unreachable: this node is not in a cluster (it has left)"
    )


async def test_flush_waits_for_what_the_outbox_still_held_when_it_was_called(
    own_server: NatsServer, prefix: str
) -> None:
    """Everything told before ``flush()`` is on the server once it returns, backlog included."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    told: list[bool] = []
    with ExitStack() as pause:
        async with nodes(transport, "web", "bank") as (web, bank):
            target = web.remote("bank", "sink")  # (no such actor: only the count matters)
            with trio.fail_after(20):
                async with trio.open_nursery() as nursery:

                    async def tell_until_full() -> None:
                        while True:
                            told.append(await target.tell(Chunk(bytes(CHUNK))))

                    pause.enter_context(paused(own_server))
                    nursery.start_soon(tell_until_full)
                    await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                    nursery.cancel_scope.cancel()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cluster_of(web).flush)
                    await trio.testing.wait_all_tasks_blocked(0.2)
                    pause.close()
                # What the server had for bank before bank's own PING, bank has read.
                await cluster_of(bank).flush()
                assert cluster_of(bank).statistics().received == len(told)


async def test_a_node_that_leaves_with_a_full_outbox_still_sends_what_it_held(
    own_server: NatsServer, prefix: str
) -> None:
    """Tells handed on before the leave reach the server while it reads, not dead letters."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    told: list[bool] = []
    letters: list[DeadLetter] = []
    with ExitStack() as pause, trio.fail_after(20):
        async with nodes(transport, "bank") as (bank,):
            async with trouper.open_runtime(node="web", transport=transport) as web:
                web.dead_letters.listen(letters.append)
                target = web.remote("bank", "sink")  # (no such actor: only the count matters)
                async with trio.open_nursery() as nursery:

                    async def tell_until_full() -> None:
                        while True:
                            told.append(await target.tell(Chunk(bytes(CHUNK))))

                    pause.enter_context(paused(own_server))
                    nursery.start_soon(tell_until_full)
                    await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                    nursery.cancel_scope.cancel()
                pause.close()  # the server reads again as web leaves
            await cluster_of(bank).flush()
            assert cluster_of(bank).statistics().received == len(told)
    assert letters == []


async def test_control_messages_lost_as_the_node_leaves_make_no_record_of_a_node(
    own_server: NatsServer, prefix: str
) -> None:
    """A lost watch request or unwatch is nobody's tell: ``peers`` still counts only real nodes."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    with ExitStack() as pause, trio.fail_after(20):
        async with nodes(transport, "bank"):
            async with trouper.open_runtime(node="web", transport=transport) as web:
                cluster = cluster_of(web)
                target = web.remote("bank", "sink")
                journal = await web.spawn(Journal, [])
                async with trio.open_nursery() as nursery:

                    async def tell_until_full() -> None:
                        while True:
                            await target.tell(Chunk(bytes(CHUNK)))

                    pause.enter_context(paused(own_server))
                    nursery.start_soon(tell_until_full)
                    await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                    nursery.cancel_scope.cancel()
                await journal.tell(target)  # a watch request, queued behind the tells
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert cluster.statistics().peers == 1
            # Left while the server read nothing: all that was queued is lost.
            assert cluster.statistics().peers == 1
            pause.close()


async def test_a_node_that_leaves_with_a_full_write_buffer_still_says_goodbye(
    own_server: NatsServer, prefix: str
) -> None:
    """The goodbye waits for room (within its bound): the others see the node leave at once."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    with ExitStack() as pause, trio.fail_after(20):
        async with nodes(transport, "bank") as (bank,):
            async with trouper.open_runtime(node="web", transport=transport) as web:
                target = web.remote("bank", "sink")
                await wait_for(lambda: "web" in cluster_of(bank).nodes())
                async with trio.open_nursery() as nursery:

                    async def tell_until_full() -> None:
                        while True:
                            await target.tell(Chunk(bytes(CHUNK)))

                    pause.enter_context(paused(own_server))
                    nursery.start_soon(tell_until_full)
                    await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                    nursery.cancel_scope.cancel()
                pause.close()  # the server reads again as web leaves
            await cluster_of(bank).flush()
            assert cluster_of(bank).nodes() == ("bank",)
