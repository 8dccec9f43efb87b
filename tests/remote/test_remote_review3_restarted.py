"""Messages sent to an earlier process of a node are not delivered to its new process's actors."""

from __future__ import annotations

import pytest
import trio
from remote_support import Account, Balance, Deposit, nodes

import trouper.nats
from trouper import Address
from trouper.codec import Codec
from trouper.errors import NodeUnreachable
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import (
    FAILED,
    NO_INCARNATION,
    actor_subject,
    error_from_wire,
    frame,
    unpack,
)
from trouper.runtime import DeadLetter

pytestmark = pytest.mark.real_clock

SENDER = b"\x02" * 8
"""The incarnation of a node "web" that sends to bank."""
EARLIER = b"\x01" * 8
"""An incarnation of "bank" before the one running (what web's frames name after a restart)."""
WHY = "node 'bank' restarted: the message was sent to its earlier process"


async def test_tells_and_asks_to_an_earlier_process_are_dead_letters_there(
    transport: Nats,
) -> None:
    """Its tells are dead letters ("node restarted"); its ask gets ``NodeUnreachable`` back."""
    codec = Codec()
    letters: list[DeadLetter] = []
    async with (
        nodes(transport, "bank") as (bank,),
        trouper.nats.connect(transport.servers[0]) as web,
    ):
        acct = await bank.spawn(Account, 10, name="acct")
        bank.dead_letters.listen(letters.append)
        subject = actor_subject(transport.prefix, "bank", "/acct")
        tells = [(1, codec.encode_blob(Deposit(5))), (2, codec.encode_blob(Deposit(7)))]
        with trio.fail_after(5):
            await web.publish(subject, frame(SENDER, EARLIER, tells))
            ask = frame(SENDER, EARLIER, [(3, codec.encode_blob(Balance()))])
            reply = await web.request(subject, ask + (1).to_bytes(8, "big"))
            assert await acct.ask(Balance()) == 10
    assert reply.data[:9] == FAILED + (1).to_bytes(8, "big")
    error = error_from_wire(unpack(reply.data[9:]), "bank")
    assert isinstance(error, NodeUnreachable)
    assert str(error) == f"actor trouper://bank/acct is unreachable: {WHY}"
    address = Address("bank", "/acct")
    assert [
        (letter.message, letter.recipient, letter.reason, str(letter.error)) for letter in letters
    ] == [
        (message, address, "node restarted", f"actor trouper://bank/acct is unreachable: {WHY}")
        for message in (Deposit(5), Deposit(7), Balance())
    ]


async def test_tells_from_a_node_that_does_not_know_the_process_yet_are_delivered(
    transport: Nats,
) -> None:
    """A frame naming no incarnation of the receiver (sent before its heartbeat) is delivered."""
    codec = Codec()
    async with (
        nodes(transport, "bank") as (bank,),
        trouper.nats.connect(transport.servers[0]) as web,
    ):
        acct = await bank.spawn(Account, 10, name="acct")
        subject = actor_subject(transport.prefix, "bank", "/acct")
        with trio.fail_after(5):
            await web.publish(
                subject, frame(SENDER, NO_INCARNATION, [(1, codec.encode_blob(Deposit(5)))])
            )
            await web.flush()
            await cluster_of(bank).flush()
            assert await acct.ask(Balance()) == 15
