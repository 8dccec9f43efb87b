"""A stop notice whose reason cannot be read here still tells the watchers the actor stopped."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Seen, Watched, Watcher, WatchIt, nodes, wait_for

import trouper.nats
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack, unpack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

UNKNOWN_REASON = {"kind": "from-a-later-version", "text": "out of stock"}
"""A reason as a node of some other version might write it: no kind this node knows."""


async def _watched_by_web(prefix: str, bank: trouper.nats.Client, watched: trio.Event) -> None:
    """Play node "bank": answer web's watch request "ok", and say so on ``watched``."""

    def on_control(msg: Msg) -> None:
        request = unpack(msg.data)
        if isinstance(request, list) and request[:1] == ["watch"] and msg.reply:
            msg.respond_nowait(pack(["ok"]))
            watched.set()

    await bank.subscribe(f"{prefix}.node.bank", callback=on_control)
    await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", "ab" * 8, 30.0]))
    await bank.flush()


@pytest.mark.parametrize("answer", [False, True], ids=["terminated-notice", "watch-answer"])
async def test_a_stop_whose_reason_cannot_be_read_is_still_reported(
    own_server: NatsServer, prefix: str, answer: bool
) -> None:
    """The watcher gets ``Terminated`` with an ``UndecodableMessage``; the notice was dropped."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    seen: list[object] = []
    watched = trio.Event()
    async with (
        nodes(transport, "web") as (web,),
        trouper.nats.connect(own_server.url) as bank,
    ):
        if answer:  # the watch is answered "gone", with the reason

            def on_control(msg: Msg) -> None:
                if msg.reply:
                    msg.respond_nowait(pack(["gone", UNKNOWN_REASON]))

            await bank.subscribe(f"{prefix}.node.bank", callback=on_control)
            await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", "ab" * 8, 30.0]))
            await bank.flush()
        else:
            await _watched_by_web(prefix, bank, watched)
        watcher = await web.spawn(Watcher)
        report = await web.spawn(Seen, seen)
        with trio.fail_after(10):
            await wait_for(lambda: "bank" in cluster_of(web).nodes())
            await watcher.tell(WatchIt(web.remote("bank", "acct"), report))
            if not answer:
                await watched.wait()
                notice = ["terminated", "bank", "/acct", UNKNOWN_REASON]
                await bank.publish(f"{prefix}.node.web", pack(notice))
            await wait_for(lambda: len(seen) == 1)
    assert seen == [Watched("/acct", "bank", "UndecodableMessage")]
