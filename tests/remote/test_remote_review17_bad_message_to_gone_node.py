"""A message that can never cross is refused as such, also to a node that is gone.

``tell``, ``tell_nowait`` and ``ask`` checked the node's liveness before
encoding the message: to a node found gone, an unregistered message type
(or one over the server's ``max_payload``) became a dead letter "node
unreachable" (``False``) or ``NodeUnreachable``, so the sender's bug showed
only while the node was up, where docs/distribution.md says the sender
learns at once.
"""

from __future__ import annotations

import attrs
import pytest
import trio
from remote_support import Account, Note, nodes, wait_for

from trouper import ActorRef, Runtime
from trouper.errors import UnregisteredMessageType
from trouper.nats import MaxPayloadExceeded
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock


@attrs.frozen
class NotRegistered:
    """A message type no registry knows."""

    n: int


async def _gone_ref(transport: Nats, web: Runtime) -> ActorRef[object]:
    """web's ref to an actor on a node ``bank`` that joined, then left the cluster."""
    async with nodes(transport, "bank") as (bank,):
        await bank.spawn(Account, 0, name="acct")
        ref = web.remote("bank", "acct")
        with trio.fail_after(10):
            await wait_for(lambda: "bank" in cluster_of(web).nodes())
    with trio.fail_after(10):
        await wait_for(lambda: "bank" not in cluster_of(web).nodes())
    return ref


async def test_an_unregistered_message_to_a_gone_node_is_refused(transport: Nats) -> None:
    """``UnregisteredMessageType`` from tell, tell_nowait and ask, not a dead letter."""
    async with nodes(transport, "web") as (web,):
        ref = await _gone_ref(transport, web)
        with pytest.raises(UnregisteredMessageType):
            await ref.tell(NotRegistered(1))
        with pytest.raises(UnregisteredMessageType):
            ref.tell_nowait(NotRegistered(2))
        with pytest.raises(UnregisteredMessageType):
            await ref.ask(NotRegistered(3))


async def test_a_message_too_big_to_cross_to_a_gone_node_is_refused(transport: Nats) -> None:
    """``MaxPayloadExceeded`` from tell, tell_nowait and ask, not a dead letter."""
    big = Note("x" * (2 * 1024 * 1024))
    async with nodes(transport, "web") as (web,):
        ref = await _gone_ref(transport, web)
        with pytest.raises(MaxPayloadExceeded):
            await ref.tell(big)
        with pytest.raises(MaxPayloadExceeded):
            ref.tell_nowait(big)
        with pytest.raises(MaxPayloadExceeded):
            await ref.ask(big)
