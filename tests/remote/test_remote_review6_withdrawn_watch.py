"""The answer to a watch request withdrawn since does not end the watch made after it."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing
from remote_support import wait_for

import trouper.nats
from trouper import Actor, ActorRef, Terminated, handler
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack, unpack

pytestmark = pytest.mark.real_clock


@attrs.frozen
class WatchOn:
    target: ActorRef[object]


@attrs.frozen
class WatchOff:
    target: ActorRef[object]


class Toggle(Actor):
    """Watches and unwatches as it is told; records each ``Terminated``."""

    def __init__(self, seen: list[Terminated]) -> None:
        self.seen = seen

    @handler
    async def on(self, message: WatchOn) -> None:
        self.ctx.watch(message.target)

    @handler
    async def off(self, message: WatchOff) -> None:
        self.ctx.unwatch(message.target)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)


async def test_a_gone_answer_to_a_withdrawn_request_leaves_the_new_watch_alone(
    transport: Nats,
) -> None:
    """Bank answers in order: no "acct" at the first request, one at the second (it started)."""
    prefix = transport.prefix
    requests: list[Msg] = []
    seen: list[Terminated] = []
    async with (
        trouper.open_runtime(node="web", transport=transport) as web,
        trouper.nats.connect(transport.servers[0]) as bank,
    ):
        # A node "bank" played by hand: it answers web's watch requests as the test says.
        await bank.subscribe(f"{prefix}.node.bank", callback=requests.append)
        await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", "ab" * 8, 30.0]))
        toggle = await web.spawn(Toggle, seen)
        acct = web.remote("bank", "acct")
        with trio.fail_after(10):
            await wait_for(lambda: "bank" in cluster_of(web).nodes())
            await toggle.tell(WatchOn(acct))
            await wait_for(lambda: len(requests) == 1)  # asked before it is withdrawn
            await toggle.tell(WatchOff(acct))
            await toggle.tell(WatchOn(acct))
            await wait_for(lambda: len(requests) == 3)
            first, withdrawn, second = requests
            assert [unpack(msg.data) for msg in requests] == [
                ["watch", "web", "/acct"],
                ["unwatch", "web", "/acct"],
                ["watch", "web", "/acct"],
            ]
            assert withdrawn.reply is None
            assert first.reply is not None
            assert second.reply is not None
            await bank.publish(first.reply, pack(["gone", None]))  # no acct yet
            await bank.publish(second.reply, pack(["ok"]))  # acct started meanwhile
            await bank.flush()
            await trio.testing.wait_all_tasks_blocked(0.2)
            assert seen == []  # acct lives, and is watched
            # acct stops: bank says so, and the watch made second is told, once.
            stop = pack(["terminated", "bank", "/acct", None])
            await bank.publish(f"{prefix}.node.web", stop)
            await wait_for(lambda: len(seen) == 1)
    assert seen == [Terminated(acct, None)]
