"""Asks' reply subjects: an answered ask's goes to a later ask, one given up never does."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import trio
from remote_support import Balance, nodes, wait_for

import trouper
import trouper.nats
from trouper.codec import Codec
from trouper.nats.protocol import pub_command
from trouper.remote import Nats
from trouper.remote.wire import OK

pytestmark = pytest.mark.real_clock

CONNECT = b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n'


async def test_a_late_no_responders_for_an_ask_given_up_fails_no_later_ask(
    transport: Nats,
) -> None:
    """A 503 on the subject of an ask cancelled meanwhile is dropped, not taken by the next ask."""
    url = urlsplit(transport.servers[0])
    assert url.hostname is not None
    assert url.port is not None
    async with (
        nodes(transport, "web") as (web,),
        trouper.nats.connect(transport.servers[0]) as bank,
        await trio.open_tcp_stream(url.hostname, url.port) as raw,
        trio.open_nursery() as nursery,
    ):
        # A node "bank" whose actor "acct" answers only when the test says so.
        sub = await bank.subscribe(f"{transport.prefix}.actor.bank.acct")
        await bank.flush()
        acct = web.remote("bank", "acct")
        replies: list[object] = []

        async def ask(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                replies.append(await acct.ask(Balance()))

        with trio.fail_after(5):
            async with trio.open_nursery() as asking:  # (left once the ask is given up)
                given_up = await asking.start(ask)
                first = await sub.next_msg()
                given_up.cancel()
            await nursery.start(ask)
            second = await sub.next_msg()
            # What the server sends for an ask nobody took, late, on the first ask's subject,
            # then the answer to the second: one connection, so they arrive in this order.
            assert first.reply is not None
            assert second.reply is not None
            late_503 = pub_command(first.reply, None, b"", b"NATS/1.0 503\r\n\r\n")
            answer = pub_command(second.reply, None, OK + second.data[-8:] + Codec().encode_blob(7))
            await raw.send_all(CONNECT + late_503 + answer + b"PING\r\n")
            await wait_for(lambda: replies == [7])
