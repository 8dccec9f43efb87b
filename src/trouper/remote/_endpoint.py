"""``RemoteEndpoint`` delivers a ref's messages to another node; ``HereEndpoint`` to this one."""

from __future__ import annotations

import enum
import math
from threading import get_ident
from typing import TYPE_CHECKING, Final

import attrs
import trio
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    current_task,
    wait_task_rescheduled,
)

from trouper._waiting import Waiter
from trouper.actors import ActorRef, Address, Endpoint, Watcher
from trouper.errors import ActorStopped, MailboxFull, NodeUnreachable
from trouper.nats import ConnectionClosed, Headers, MaxPayloadExceeded, OutboundBufferFull, Status
from trouper.nats.protocol import encode_headers
from trouper.remote._outbox import QUEUE_BYTES
from trouper.remote.wire import ENTRY, FRAME_HEAD, NO_INCARNATION, actor_subject
from trouper.runtime import DeadLetter, DeadLetterReason

if TYPE_CHECKING:
    from trouper.remote._cluster import Cluster, Peer
    from trouper.remote._outbox import Batch, Outbox
    from trouper.runtime import Runtime
    from trouper.runtime.lowlevel import Instruments

__all__ = [
    "GONE",
    "MSG_ID_HEADER",
    "YIELD_EVERY",
    "HereEndpoint",
    "Liveness",
    "Pending",
    "RemoteEndpoint",
    "why_restarted",
]

MSG_ID_HEADER: Final = "Trouper-Msg-Id"
"""The header a tell's ``msg_id`` travels in (for a durable mailbox on the other node)."""

YIELD_EVERY: Final = 64 * 1024
"""Bytes of tells after which ``send`` yields (it checks for cancellation on every call)."""


class Liveness(enum.Enum):
    """What this node knows of another: never heard from, alive, or gone."""

    UNKNOWN = "unknown"
    """Never heard from: messages are sent, and the server says if nobody takes them."""
    ALIVE = "alive"
    """Heard from within two of its heartbeat intervals."""
    GONE = "gone"
    """Silent, left or restarted since: tells become dead letters, asks fail at once."""


GONE: Final = Liveness.GONE

_pack_entry = ENTRY.pack

_FRAMING: Final = FRAME_HEAD + ENTRY.size
"""Bytes a frame of one message adds to its blob: the incarnations and the entry's head."""

_TOKEN: Final = 8
"""Bytes of the token that ends an ask's frame."""


def why_restarted(node: str) -> str:
    """Why messages for a process of ``node`` that has restarted since cannot go."""
    return f"node {node!r} restarted"


def _restarted_since(peer: Peer, tag: bytes) -> bool:
    """Whether ``peer`` runs another process than ``tag`` names (zeros: any process will do).

    A tell or ask made while the node ran one process is for that process's
    actor; one that waited for room while the node restarted is not sent to the
    new process, as one queued then is not (``Outbox.drop``).
    """
    return tag != NO_INCARNATION and peer.tag != tag


class Pending(Waiter[bytes]):
    """An ask waiting for its reply: the reply's bytes, or the error that ended the wait."""

    __slots__ = ("address", "since")

    def __init__(self, address: Address) -> None:
        super().__init__()
        self.address = address
        # The actor asked (for the errors that end the wait).
        self.since = math.inf
        # trio.current_time() when it was sent to a node never heard from (which fails it if
        # the node stays silent); infinity for one to a node heard from.


class RemoteEndpoint:
    """Delivers a ref's messages to an actor on another node, over the cluster's NATS connection.

    The endpoint of every ref whose address names another node (``rt.remote(node,
    name)``, refs read from messages, ``trouper.remote.locate``). Its operations
    run in the runtime's Trio thread, as a local actor's do.

    - ``send`` / ``send_nowait`` (``tell``, ``tell_nowait``): encode the message
      and queue it in this node's outbox, in order with everything else the
      node sends to that node's actors; a burst of tells to one actor leaves as
      one NATS message once the sender yields. ``True`` means *handed on*:
      queued to be written to the server, at most once, not that it reached the
      actor. FIFO holds per sender and receiver, whichever refs the sender uses
      (one by registered name and one by path reach the actor in the order
      told). ``False``: the node is known to be gone, or
      this node has left the cluster; the message became a dead letter ("node
      unreachable"), as it does later if it cannot be written at all.
      ``send`` checks for cancellation on every call and yields once per 64
      KiB sent; it waits while 4 MiB wait to be written (``send_nowait``
      raises ``MailboxFull`` then), until the node is found gone or this node
      leaves (then ``False``, as above). A tell is for the node's process
      running when it was made: if the node restarts while it waits, it is
      ``False`` too (not sent to the new process's actor of the same name).
    - ``ask``: a NATS request under the caller's cancel scope; see ``Cluster``
      for the errors it raises.
    - ``watch`` / ``unwatch``: death watch across nodes (``ctx.watch(ref)``).

    An unregistered or unencodable message raises ``UnregisteredMessageType`` or
    ``UnencodableMessage`` from the call, before anything is sent, and one over
    the server's ``max_payload`` raises ``MaxPayloadExceeded``, also when the
    node is gone (not a dead letter or ``NodeUnreachable``; once this node has
    left, only the encoding is checked: no server says what fits).
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

    @property
    def runtime(self) -> Runtime:
        """The runtime of this node, in whose Trio thread alone the endpoint sends."""
        return self._cluster._runtime

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Send ``message`` to the remote actor (``tell``); see the class docstring."""
        cluster = self._cluster
        runtime = cluster._runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("tell")
        await checkpoint_if_cancelled()
        outbox = cluster._outbox
        peer = self._peer
        if peer.dropped:
            peer = self._repeer()
        if outbox is None or peer.state is GONE:
            self._encode(message, msg_id)  # a message that can never cross says so first
            cluster._unreachable(message, self.address, peer)
            await cancel_shielded_checkpoint()
            return False
        encoded = None
        if outbox.full:
            # Refused before it waits, as it would be at once with room (it stays encoded).
            encoded = self._encode(message, msg_id)
            # The process it is for: a new one after the wait must not get it (read here,
            # off the path of a tell that does not wait).
            tag = peer.tag
            while outbox.full:  # woken by room, by the node going or by this node leaving
                await outbox.wait_room()
                if peer.dropped:
                    peer = self._repeer()
                if cluster._outbox is None or peer.gone:  # left, or the node went, meanwhile
                    cluster._unreachable(message, self.address, peer)
                    return False
                if _restarted_since(peer, tag):
                    cluster._unreachable(message, self.address, peer, why_restarted(peer.node))
                    return False
        size = self._queue_tell(message, msg_id, encoded)
        # A burst of tells is published when the sender yields, so yield once per
        # so many bytes (cancellation is checked on every call).
        budget = cluster._yield_budget - size
        if budget > 0:
            cluster._yield_budget = budget
        else:
            cluster._yield_budget = YIELD_EVERY
            await cancel_shielded_checkpoint()
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Send ``message`` now (``tell_nowait``); ``MailboxFull`` if too much waits to be sent."""
        cluster = self._cluster
        runtime = cluster._runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("tell_nowait")
        outbox = cluster._outbox
        peer = self._peer
        if peer.dropped:
            peer = self._repeer()
        if outbox is None or peer.state is GONE:
            self._encode(message, msg_id)  # a message that can never cross says so first
            cluster._unreachable(message, self.address, peer)
            return False
        if outbox.full:
            raise MailboxFull(self.address, QUEUE_BYTES)
        self._queue_tell(message, msg_id)
        return True

    def _repeer(self) -> Peer:
        """Take the node's current record: the cluster dropped the one this endpoint held."""
        peer = self._peer = self._cluster._peer(self.address.node)
        return peer

    def _encode(
        self, message: object, msg_id: str | None, extra: int = 0
    ) -> tuple[bytes, Headers | None]:
        """``message``'s blob and the headers it goes with, checked to fit ``max_payload``.

        ``extra``: bytes its frame ends with besides (an ask's token).

        Raises:
            UnregisteredMessageType, UnencodableMessage: it cannot be encoded.
            MaxPayloadExceeded: it is too large to cross.
        """
        cluster = self._cluster
        blob = cluster._codec.encode_blob(message)
        instruments = cluster._runtime.instruments
        headers = (
            None
            if msg_id is None and not instruments.inject_headers
            else _headers(instruments, msg_id)
        )
        self._check_size(blob, headers, extra)
        return blob, headers

    def _queue_tell(
        self,
        message: object,
        msg_id: str | None,
        encoded: tuple[bytes, Headers | None] | None = None,
    ) -> int:
        """Encode ``message`` (unless ``encoded``) and queue it; return its encoded size.

        It joins the subject's open batch, unless it carries headers (a
        ``msg_id``, or what the instruments send along: a trace context),
        which go with a NATS message of its own.
        """
        cluster = self._cluster
        outbox = cluster._outbox
        assert outbox is not None
        peer = self._peer
        if encoded is None:  # (_encode, inlined: the path of every tell)
            blob = cluster._codec.encode_blob(message)
            instruments = cluster._runtime.instruments
            headers = (
                None
                if msg_id is None and not instruments.inject_headers
                else _headers(instruments, msg_id)
            )
            self._check_size(blob, headers)
        else:
            blob, headers = encoded
        peer.seq = seq = peer.seq + 1
        if headers is None:  # (also when the instruments had nothing to add)
            outbox.tell(self._subject, self.address, peer.head, seq, blob, message)
        else:
            outbox.alone(
                self._subject, self.address, peer.head, seq, blob, headers=headers, message=message
            )
        cluster._sent += 1
        return len(blob)

    def _check_size(self, blob: bytes, headers: Headers | None, extra: int = 0) -> None:
        """Raise ``MaxPayloadExceeded`` if ``blob`` cannot cross, with its headers and frame.

        The size is the NATS message's, as the server counts it: the headers,
        the frame's heads, the blob and ``extra`` bytes after it (an ask's token).
        """
        client = self._cluster._client
        if client is None:
            return
        size = _FRAMING + len(blob) + extra
        if headers is not None:
            size += len(encode_headers(headers))
        if size > client.max_payload:
            raise MaxPayloadExceeded(size, client.max_payload)

    async def ask(self, message: object) -> object:
        """Ask the remote actor and wait for its reply (``ask``), under the caller's deadline.

        The request leaves at once, after what this node queued for the same
        actor, and the caller waits for the reply, its error, or the end of its
        cancel scope; nothing else bounds the wait, except that it fails as soon
        as this node knows no reply can come. Cancelled while its request is
        still in this node's outbox (behind a full write buffer), the request
        is taken back and never sent; once written to the connection it may
        still be handled, and its answer is dropped.

        Raises:
            NodeUnreachable: the node is gone (also while the ask waits, or it
                restarted then), not in the cluster, or this node's connection to
                the cluster is down (also when it drops while the ask waits).
            ActorStopped: the node has no such actor (or it stopped before replying).
            HandlerError: its handler raised (``remote`` carries what, as text).
            UnhandledMessage: the actor has no handler for the message's type.
            UnregisteredMessageType, UnencodableMessage: the message cannot be sent.
            MaxPayloadExceeded: it is over the server's ``max_payload`` (also
                once queued behind a full write buffer, if the server lowers it).
            UndecodableMessage: the reply cannot be decoded here.
        """
        cluster = self._cluster
        runtime = cluster._runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("ask")
        await checkpoint_if_cancelled()
        # Before anything else: a message that can never cross says so, whatever the node's state.
        blob, headers = self._encode(message, None, _TOKEN)
        address = self.address
        tag: bytes | None = None  # the process it is for: a new one after a wait must not get it
        while True:  # once, unless it waits for room: all may have changed meanwhile
            client = cluster._client
            outbox = cluster._outbox
            peer = self._peer
            if peer.dropped:
                peer = self._repeer()
            if client is None or outbox is None:
                raise NodeUnreachable(address, "this node is not in a cluster (it has left)")
            if peer.state is GONE:
                raise NodeUnreachable(address, peer.why)
            if tag is None:
                tag = peer.tag
            elif _restarted_since(peer, tag):
                raise NodeUnreachable(address, why_restarted(peer.node))
            if client.status is not Status.CONNECTED:
                raise NodeUnreachable(address, "this node's connection to the cluster is down")
            if not outbox.full:
                break
            await outbox.wait_room()  # (woken also when the node goes or this node leaves)
        cluster._tokens = token = cluster._tokens + 1
        pending = Pending(address)
        if peer.state is Liveness.UNKNOWN:  # (it fails if the node stays silent: _check_liveness)
            pending.since = trio.current_time()
        cluster._pending[token] = pending
        # Its own reply subject, so that a "no responders" names it: an answered
        # ask's, or a new one (see Peer.free).
        free = peer.free
        reply = free.pop() if free else f"{peer.reply_subject}.{token}"
        peer.asks[reply] = pending
        batch: Batch | None = None  # the batch it waits in, while the write buffer is full
        try:
            # Its number is taken once it is written or queued, not before: one that raised
            # here was never sent, and the receiver would count its number lost.
            seq = peer.seq + 1
            queue = not outbox.empty
            if not queue:  # nothing to go first: publish it now, without a batch
                frame = peer.head + _pack_entry(seq, len(blob)) + blob + token.to_bytes(8, "big")
                try:
                    client.publish_nowait(self._subject, frame, reply=reply, headers=headers)
                except (OutboundBufferFull, ConnectionClosed):
                    if not cluster.connected:  # (else only the write buffer is full)
                        why = "this node's connection to the cluster is down"
                        raise NodeUnreachable(address, why) from None
                    queue = True  # the outbox sends it once the server has read the rest
            peer.seq = seq
            if queue:
                batch = outbox.alone(
                    self._subject,
                    address,
                    peer.head,
                    seq,
                    blob,
                    reply=reply,
                    token=token,
                    pending=pending,
                    headers=headers,
                )
                outbox.publish_now()
            cluster._sent += 1
            # Pending.wait, inlined: one coroutine fewer per ask.
            if pending.result is None:
                pending.task = current_task()
                try:
                    data = await wait_task_rescheduled(pending.give_up)
                except trio.Cancelled:
                    if batch is not None:
                        self._withdraw(outbox, batch, peer, seq)
                    raise
            else:
                data = await pending.wait()
        finally:
            del cluster._pending[token]
            peer.asks.pop(reply, None)
        free.append(reply)  # answered: no "no responders" can come on it now
        return cluster._read_reply(data, address)

    def _withdraw(self, outbox: Outbox, batch: Batch, peer: Peer, seq: int) -> None:
        """A cancelled ask (numbered ``seq``) not written yet is not sent: take it off the queue.

        Once written (handed to the connection) it may still arrive and be
        handled; its answer is then dropped (at most once).
        """
        head = bytes(batch.data[:FRAME_HEAD])
        if outbox.withdraw(batch):
            self._cluster._sent -= 1
            if peer.head == head:  # (the entries queued after it were renumbered)
                peer.seq -= 1

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` once when the remote actor stops, or its node is gone.

        Raises:
            RuntimeError: called from outside the runtime's Trio thread (as ``tell``).
        """
        runtime = self._cluster._runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("watch")
        self._cluster._watch(self, watcher)

    def unwatch(self, watcher: Watcher) -> None:
        """Stop telling ``watcher``.

        Raises:
            RuntimeError: called from outside the runtime's Trio thread (as ``tell``).
        """
        runtime = self._cluster._runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread("unwatch")
        self._cluster._unwatch(self, watcher)

    def ref(self) -> ActorRef[object]:
        """A ref to the remote actor through this endpoint."""
        return ActorRef(self.address, self)


class HereEndpoint:
    """Delivers a ref's messages to an address on this node, finding its actor each time.

    The endpoint of a ref that names this node but no actor living here when
    it was made (``rt.remote(<this node>, name)`` before the spawn, a ref read
    from a message). Nothing goes through the server: each operation looks the
    actor up as a message from another node would be (by path, or by the name
    a top-level actor is registered under) and delegates to its endpoint, so
    an actor spawned after the ref was made is reached. With none there, the
    ref behaves as a stopped local actor's: a tell is a dead letter ("actor
    stopped") and returns ``False``, ``tell_nowait`` too, an ask posts one and
    raises ``ActorStopped``, and a watcher gets ``Terminated(ref, None)`` at once.
    """

    __slots__ = ("_cluster", "address")

    def __init__(self, cluster: Cluster, address: Address) -> None:
        self._cluster = cluster
        # The node's cluster membership: its runtime holds the actors looked up.
        self.address = address
        """The address on this node."""

    def __repr__(self) -> str:
        return f"<HereEndpoint {self.address}>"

    @property
    def runtime(self) -> Runtime:
        """The runtime of this node, whose actors alone the endpoint finds, in its thread."""
        return self._cluster._runtime

    def _found(self, operation: str) -> Endpoint[object] | None:
        """The endpoint of the actor living at the address now, or ``None``."""
        runtime = self._cluster._runtime
        if get_ident() != runtime.thread:
            runtime.refuse_foreign_thread(operation)
        ref = self._cluster._find_local(self.address.path)
        return None if ref is None else ref.endpoint

    def _dead(self, message: object) -> None:
        self._cluster._runtime.dead_letters.post(
            DeadLetter(message, self.address, DeadLetterReason.ACTOR_STOPPED)
        )

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Tell the actor at the address (``tell``); ``False``, a dead letter, if none lives."""
        endpoint = self._found("tell")
        if endpoint is not None:
            return await endpoint.send(message, msg_id)
        await checkpoint_if_cancelled()
        self._dead(message)
        await cancel_shielded_checkpoint()
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Tell the actor now (``tell_nowait``); ``False``, a dead letter, if none lives."""
        endpoint = self._found("tell_nowait")
        if endpoint is not None:
            return endpoint.send_nowait(message, msg_id)
        self._dead(message)
        return False

    async def ask(self, message: object) -> object:
        """Ask the actor at the address (``ask``).

        Raises:
            ActorStopped: no actor lives there (a dead letter was posted).
        """
        endpoint = self._found("ask")
        if endpoint is not None:
            return await endpoint.ask(message)
        await checkpoint_if_cancelled()
        self._dead(message)
        await cancel_shielded_checkpoint()
        raise ActorStopped(self.address)

    def watch(self, watcher: Watcher) -> None:
        """Watch the actor living at the address; with none, ``watcher`` is told at once.

        ``Terminated`` names this ref's address, also for a child found by its
        registered name (whose own address is longer), as another node's would.
        """
        endpoint = self._found("watch")
        if endpoint is None:
            watcher.terminated(self.ref(), None)
        else:
            endpoint.watch(_Renamed(watcher, self.address))

    def unwatch(self, watcher: Watcher) -> None:
        """Stop telling ``watcher`` (of the actor living at the address now)."""
        endpoint = self._found("unwatch")
        if endpoint is not None:
            endpoint.unwatch(_Renamed(watcher, self.address))

    def ref(self) -> ActorRef[object]:
        """A ref to the address through this endpoint."""
        return ActorRef(self.address, self)


@attrs.frozen
class _Renamed:
    """Watches for a ``HereEndpoint``'s watcher, so ``Terminated`` names the address it watched.

    Equal for the same watcher and address, so that ``unwatch`` finds it.
    """

    watcher: Watcher
    """Who is told."""
    address: Address
    """The address the watcher watched (the ref it is told of has it)."""

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        """The actor found at the address stopped for good: tell the watcher of that address."""
        self.watcher.terminated(ActorRef(self.address, ref.endpoint), reason)


def _headers(instruments: Instruments, msg_id: str | None) -> Headers | None:
    """The NATS headers a message carries: its ``msg_id``, what instruments send along.

    A ``Headers``, not a dict: it keeps its encoded block, so the size check
    and the publish encode it once between them.
    """
    headers = instruments.outgoing_headers() if instruments.inject_headers else None
    if msg_id is not None:
        if headers is None:
            return Headers({MSG_ID_HEADER: msg_id})
        headers[MSG_ID_HEADER] = msg_id
    return Headers(headers) if headers else None
