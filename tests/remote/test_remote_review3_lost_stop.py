"""A stop whose notice to a watching node was lost is reported with its reason when asked again."""

from __future__ import annotations

import pytest
import trio
from remote_support import Account, Explode, StopNow, nodes, wait_for
from test_remote_review_notices import Journal

import trouper
import trouper.nats
from trouper import Restart, Terminated
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import error_from_wire, pack, unpack

pytestmark = pytest.mark.real_clock


async def _watch(client: trouper.nats.Client, prefix: str, path: str) -> object:
    """What node ``bank`` answers to a watch request from a node ``web`` (as its recheck makes)."""
    answer = await client.request(f"{prefix}.node.bank", pack(["watch", "web", path]))
    return unpack(answer.data)


async def test_a_watch_made_again_after_a_lost_terminated_gets_the_stops_real_reason(
    transport: Nats,
) -> None:
    """The watching node asks again (after a reconnect): it gets the error, not ``None``."""
    seen: list[Terminated] = []
    async with (
        nodes(transport, "bank") as (bank,),
        trouper.nats.connect(transport.servers[0]) as web,
    ):
        acct = await bank.spawn(Account, 1, name="acct", restart=Restart.TEMPORARY)
        journal = await bank.spawn(Journal, seen)
        await journal.tell(acct)
        with trio.fail_after(5):
            # "web" watches acct; it hears nothing on its control subject, so the
            # terminated bank sends it there is lost, as with a dropped connection.
            assert await _watch(web, transport.prefix, "/acct") == ["ok"]
            await acct.tell(Explode("boom"))
            await wait_for(lambda: seen != [])
            await cluster_of(bank).flush()
            answer = await _watch(web, transport.prefix, "/acct")
        [terminated] = seen
        assert isinstance(answer, list)
        gone, wired = answer
        assert gone == "gone"
        reason = error_from_wire(wired, "bank")
        assert type(reason) is type(terminated.reason)
        assert str(reason) == str(terminated.reason)


async def test_a_normal_stop_lost_the_same_way_is_reported_as_one(transport: Nats) -> None:
    """A stop with no error is answered with ``None``, as its notice would have said."""
    async with (
        nodes(transport, "bank") as (bank,),
        trouper.nats.connect(transport.servers[0]) as web,
    ):
        acct = await bank.spawn(Account, 1, name="acct")
        with trio.fail_after(5):
            assert await _watch(web, transport.prefix, "/acct") == ["ok"]
            await acct.tell(StopNow())
            await wait_for(lambda: bank.lookup("acct") is None)
            await cluster_of(bank).flush()
            assert await _watch(web, transport.prefix, "/acct") == ["gone", None]
