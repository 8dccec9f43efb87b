"""``RemoteEndpoint``: what a ref to an actor on another node delivers through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trouper.actors import ActorRef, Address, Watcher
from trouper.errors import MailboxFull, NodeUnreachable
from trouper.nats import (
    ConnectionClosed,
    ConnectionLost,
    NoResponders,
    OutboundBufferFull,
    Status,
)
from trouper.remote._wire import actor_subject

if TYPE_CHECKING:
    from trouper.remote._cluster import Cluster, Peer

__all__ = ["MSG_ID_HEADER", "RemoteEndpoint"]

MSG_ID_HEADER: Final = "Trouper-Msg-Id"
"""The header a tell's ``msg_id`` travels in (for a durable mailbox on the other node)."""

_UNSENT = (OutboundBufferFull, ConnectionClosed)
"""What a publish raises when the message cannot be sent at all."""


class RemoteEndpoint:
    """Delivers a ref's messages to an actor on another node, over the cluster's NATS connection.

    The endpoint of every ref whose address names another node (``rt.remote(node,
    name)``, refs read from messages, ``trouper.remote.locate``). Its operations
    run in the runtime's Trio thread, as a local actor's do.

    - ``send`` / ``send_nowait`` (``tell``, ``tell_nowait``): encode the message
      and hand it to the connection, in order with every other message of this
      node. ``True`` means *handed on*: written (or buffered to be written) to
      the server, at most once, not that it reached the actor. FIFO holds per
      sender and receiver. ``False``: the node is gone or this node is cut off
      and cannot buffer it; the message became a dead letter ("node
      unreachable"). ``send`` waits while the connection's write buffer is
      full; ``send_nowait`` raises ``MailboxFull`` then.
    - ``ask``: a NATS request under the caller's cancel scope; see ``Cluster``
      for the errors it raises.
    - ``watch`` / ``unwatch``: death watch across nodes (``ctx.watch(ref)``).

    An unregistered or unencodable message raises ``UnregisteredMessageType`` or
    ``UnencodableMessage`` from the call, before anything is sent.
    """

    __slots__ = ("_cluster", "_peer", "_subject", "address")

    def __init__(self, cluster: Cluster, peer: Peer, address: Address, prefix: str) -> None:
        # The node's cluster membership; the connection and codec are its own.
        self._cluster = cluster
        # The remote node's record (liveness, sequence numbers, watches).
        self._peer = peer
        # The subject the actor receives on.
        self._subject = actor_subject(prefix, address.node, address.path)
        self.address = address
        """The remote actor's address."""

    def __repr__(self) -> str:
        return f"<RemoteEndpoint {self.address}>"

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Send ``message`` to the remote actor (``tell``); see the class docstring."""
        cluster = self._cluster
        cluster._check_thread("tell")
        await checkpoint_if_cancelled()
        client = cluster._client
        peer = self._peer
        if client is None or peer.gone:
            cluster._unreachable(message, self.address, peer)
            await cancel_shielded_checkpoint()
            return False
        blob = cluster._codec.encode_blob(message)
        peer.seq = seq = peer.seq + 1
        headers = None if msg_id is None else {MSG_ID_HEADER: msg_id}
        try:
            await client.publish(
                self._subject,
                cluster._incarnation + peer.tag + seq.to_bytes(8, "big") + blob,
                headers=headers,
            )
        except _UNSENT:
            peer.seq = seq - 1  # raised before anything was buffered
            cluster._unreachable(message, self.address, peer)
            return False
        cluster._sent += 1
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Send ``message`` now (``tell_nowait``); ``MailboxFull`` if the write buffer is full."""
        cluster = self._cluster
        cluster._check_thread("tell_nowait")
        client = cluster._client
        peer = self._peer
        if client is None or peer.gone:
            cluster._unreachable(message, self.address, peer)
            return False
        blob = cluster._codec.encode_blob(message)
        peer.seq = seq = peer.seq + 1
        headers = None if msg_id is None else {MSG_ID_HEADER: msg_id}
        try:
            client.publish_nowait(
                self._subject,
                cluster._incarnation + peer.tag + seq.to_bytes(8, "big") + blob,
                headers=headers,
            )
        except _UNSENT:
            peer.seq = seq - 1
            if client.status is Status.CONNECTED:
                raise MailboxFull(self.address, cluster._write_buffer) from None
            cluster._unreachable(message, self.address, peer)
            return False
        cluster._sent += 1
        return True

    async def ask(self, message: object) -> object:
        """Ask the remote actor and wait for its reply (``ask``), under the caller's deadline.

        Raises:
            NodeUnreachable: the node is gone, not in the cluster, or this node's
                connection to the cluster is down (also when it drops during the ask).
            ActorStopped: the node has no such actor (or it stopped before replying).
            HandlerError: its handler raised (``remote`` carries what, as text).
            UnhandledMessage: the actor has no handler for the message's type.
            UnregisteredMessageType, UnencodableMessage: the message cannot be sent.
            UndecodableMessage: the reply cannot be decoded here.
        """
        cluster = self._cluster
        cluster._check_thread("ask")
        await checkpoint_if_cancelled()
        client = cluster._client
        peer = self._peer
        address = self.address
        if client is None:
            raise NodeUnreachable(address, "this node is not in a cluster (it has left)")
        if peer.gone:
            raise NodeUnreachable(address, peer.why)
        if client.status is not Status.CONNECTED:
            raise NodeUnreachable(address, "this node's connection to the cluster is down")
        blob = cluster._codec.encode_blob(message)
        peer.seq = seq = peer.seq + 1
        asks = peer.asks
        with trio.CancelScope() as scope:
            asks[scope] = ""
            try:
                reply = await client.request(
                    self._subject, cluster._incarnation + peer.tag + seq.to_bytes(8, "big") + blob
                )
            except NoResponders:
                raise NodeUnreachable(
                    address, f"no node {address.node!r} is in the cluster"
                ) from None
            except ConnectionLost:  # written, then the connection dropped: no reply can come
                raise NodeUnreachable(
                    address, "this node's connection to the cluster dropped"
                ) from None
            except _UNSENT:
                peer.seq = seq - 1
                raise NodeUnreachable(
                    address, "this node's connection to the cluster is down"
                ) from None
            finally:
                why = asks.pop(scope)
        if scope.cancelled_caught:
            raise NodeUnreachable(address, why)
        cluster._sent += 1
        return cluster._read_reply(reply.data, address)

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` once when the remote actor stops, or its node is gone."""
        self._cluster._watch(self, watcher)

    def unwatch(self, watcher: Watcher) -> None:
        """Stop telling ``watcher``."""
        self._cluster._unwatch(self, watcher)

    def ref(self) -> ActorRef[object]:
        """A ref to the remote actor through this endpoint."""
        return ActorRef(self.address, self)
