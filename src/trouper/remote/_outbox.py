"""``Outbox``: everything a node sends to other nodes' actors, in order, batched per target.

Theory of operation
-------------------
Tells, asks, answers, topic publishes and control messages of a node leave through one
queue of *batches*, each one NATS message to one subject. A tell goes into
its target's *open* batch (still taking entries), so a burst of tells to
one actor costs NATS one message, not one per tell. A node has at most one
open batch, the last queued for it: a tell to another of its subjects starts
a new one, so what a node sends to another leaves in the order it was made,
whatever subject it names (two refs to one actor, by its registered name and
by its path, have two; and the receiver reads the sender's one sequence of
numbers per node in order, or it would count gaps that are no loss). A
batch closes when it reaches ``BATCH_BYTES``, when an ask joins it (the
ask is its last entry, and the NATS message's reply subject is the ask's),
when it is published, when a tell or ask to another subject of its node is
queued after it, or when a topic publish is queued after it (an actor
both told and subscribed gets them in the order they were sent). One task,
``run``, publishes the queue in order whenever it has something (it is
woken when the queue stops being empty, so it runs once the sender
yields). Asks and answers wait for nobody:
``publish_now`` publishes the queue at once, in order, up to the first
batch that does not fit in the connection's write buffer. So the order of
everything a node sends to one subject is the order it was added in. An ask
whose asker is cancelled while its batch is still queued is taken back
(``withdraw``): what raised ``Cancelled`` was not sent, and the numbers after
it close up.

While the connection's write buffer is full, the task waits until the
server has read it; meanwhile the queue grows, and ``send`` waits (and
``send_nowait`` raises ``MailboxFull``) once it holds ``QUEUE_BYTES``: until
there is room, or until ``wake`` (the node sent to is gone, or this node
leaves), when the sender checks again whether it may send at all.
The batches still queued for a node found gone are taken off the queue
(``drop``): their tells become dead letters, as later ones to it do.
While the connection is down, batches go to the client's outage buffer; a
batch that does not fit is lost: its tells become dead letters ("node
unreachable"), its ask fails with ``NodeUnreachable``, and an answer's asker
is told once the node is back (``on_lost`` gets the batch's ``answer``). So
is a batch over the server's ``max_payload`` once the server lowered it (a
reconnect, an ``INFO``; its ask fails with ``MaxPayloadExceeded``, and an
answer's asker is told so at once, since no reconnect may come), and what is
still queued when the node leaves (``close``). Each says why.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import outcome
import trio
from trio.lowlevel import ParkingLot

from trouper.actors import Address
from trouper.errors import NodeUnreachable
from trouper.nats import (
    ConnectionClosed,
    ConnectionLost,
    HeadersLike,
    MaxPayloadExceeded,
    OutboundBufferFull,
    Status,
)
from trouper.remote.wire import ENTRY, FRAME_HEAD

if TYPE_CHECKING:
    from trouper.nats import Client
    from trouper.remote._endpoint import Pending

__all__ = ["BATCH_BYTES", "QUEUE_BYTES", "Batch", "Outbox", "Reply"]

BATCH_BYTES: Final = 64 * 1024
"""A batch closes once it holds this many bytes (or the server's ``max_payload``, if less)."""

QUEUE_BYTES: Final = 4 * 1024 * 1024
"""Bytes queued and not yet published beyond which ``send`` waits (backpressure)."""

Reply = tuple[str, bytes, str]
"""Where an ask from another node is answered: the asking node's reply subject and the token,
and the subject it was asked on (which names the actor asked)."""

_pack_entry = ENTRY.pack
_unpack_entry = ENTRY.unpack_from
_ENTRY_HEAD: Final = ENTRY.size
_TOKEN: Final = 8
"""Bytes of the token that ends an ask's frame (the answer carries it back)."""
_NOBODY = Address("-", "/")
_CUT_OFF: Final = "this node's connection to the cluster is down"
_LEFT: Final = "this node left the cluster"


class Batch:
    """Messages for one subject that leave as one NATS message (a frame of entries)."""

    __slots__ = (
        "address",
        "answer",
        "asked_at",
        "counted",
        "data",
        "headers",
        "messages",
        "number",
        "pending",
        "queued",
        "reply",
        "subject",
    )

    def __init__(
        self,
        subject: str,
        address: Address,
        data: bytearray | bytes,
        headers: HeadersLike | None = None,
    ) -> None:
        self.subject = subject
        # Where it goes.
        self.address = address
        # The actor it is for (dead letters name it); the node's root for control messages.
        self.data = data
        # The frame, a bytearray: the head, then one entry per message. A message that is
        # no frame (an answer, a control message, a publish) keeps its bytes as given:
        # nothing is added to it, so it is copied only once, into the connection's buffer.
        self.messages: list[object] = []
        # The tells in it, in order, to make dead letters of if it cannot be sent.
        self.reply: str | None = None
        # The reply subject of the ask it ends with (it then takes no more entries), or of
        # the watch request it is.
        self.pending: Pending | None = None
        # That ask (or watch request), to fail if the batch cannot be sent.
        self.headers = headers
        # NATS headers (a tell's msg_id); such a batch holds that one message.
        self.answer: Reply | None = None
        # The ask it answers (the node's record of it), for on_lost to tell its asker later.
        self.counted = False
        # Whether its loss counts as one message unsent: an answer or a topic publish (a
        # batch of tells counts each of them; a request fails its asker; a control message
        # is not counted).
        self.asked_at = 0
        # Where the entry of the ask it ends with starts in data (meaningful while it ends
        # with an ask's: ``Outbox.withdraw`` cuts the frame there).
        self.queued = False
        # Whether it is in its outbox's queue: neither published, lost nor withdrawn yet.
        self.number = 0
        # Its place in its outbox's order: one more than the batch queued before it.


class Outbox:
    """One node's outgoing batches, in order, and the task that publishes them."""

    __slots__ = (
        "_client",
        "_lot",
        "_numbered",
        "_on_lost",
        "_open",
        "_queue",
        "_queued",
        "_room",
    )

    def __init__(
        self, client: Client, on_lost: Callable[[Batch, str | None, Exception | None], None]
    ) -> None:
        self._client = client
        # The connection everything leaves through.
        self._on_lost = on_lost
        # Called with each batch that could not be sent (its tells become dead letters), why
        # (or None for a node gone: the node's record says why), and the error its ask fails
        # with if not NodeUnreachable (a MaxPayloadExceeded; None for a node gone).
        self._queue: deque[Batch] = deque()
        # Batches not yet published, oldest first.
        self._open: dict[str, Batch] = {}
        # The batch still taking tells of each node (by name): the last one queued for it,
        # always also in _queue; a frame, so its data is a bytearray the tells are added to.
        self._queued = 0
        # Bytes in _queue.
        self._lot = ParkingLot()
        # The publishing task parks here while the queue is empty.
        self._room = ParkingLot()
        # Senders wait here while _queued is over QUEUE_BYTES.
        self._numbered = 0
        # Batches ever queued: the number of the last one. Numbers grow along _queue, so the
        # batches queued up to one have all left it once its front has a higher number (the
        # batches of a node gone, dropped from the middle, change nothing there).

    @property
    def empty(self) -> bool:
        """Whether nothing waits to be published (a message may then be published at once)."""
        return not self._queue

    @property
    def full(self) -> bool:
        """Whether senders should wait before queueing more."""
        return self._queued > QUEUE_BYTES

    def tell(
        self, subject: str, address: Address, head: bytes, seq: int, blob: bytes, message: object
    ) -> None:
        """Queue a tell: into its node's open batch if that is ``subject``'s, or a new one."""
        node = address.node
        batch = self._open.get(node)
        if (
            batch is None
            or batch.subject != subject
            or len(batch.data) + _ENTRY_HEAD + len(blob) > self._limit()
        ):
            batch = self._open[node] = self._new(subject, address, bytearray(head))
        data = batch.data
        before = len(data)
        data += _pack_entry(seq, len(blob))
        data += blob
        batch.messages.append(message)
        self._queued += len(data) - before

    def alone(
        self,
        subject: str,
        address: Address,
        head: bytes,
        seq: int,
        blob: bytes,
        *,
        reply: str | None = None,
        token: int = 0,
        pending: Pending | None = None,
        headers: HeadersLike | None = None,
        message: object = None,
    ) -> Batch:
        """Queue an ask (it ends ``subject``'s open batch) or a tell with headers (alone).

        Either closes its node's open batch. An ask's frame ends with its
        ``token`` (8 bytes), which the answer carries back. Returns the batch
        it is in (an ask's asker may ``withdraw`` it while it is queued).
        """
        batch = self._open.pop(address.node, None)
        if (
            batch is None
            or batch.subject != subject
            or headers is not None
            or len(batch.data) + _ENTRY_HEAD + len(blob) + _TOKEN > self._limit()
        ):
            batch = self._new(subject, address, bytearray(head), headers)
        data = batch.data
        before = len(data)
        data += _pack_entry(seq, len(blob))
        data += blob
        if reply is None:
            batch.messages.append(message)
        else:
            data += token.to_bytes(8, "big")
            batch.asked_at = before
        batch.reply = reply
        batch.pending = pending
        self._queued += len(data) - before
        return batch

    def raw(
        self,
        subject: str,
        payload: bytes,
        *,
        to: str | None = None,
        reply: str | None = None,
        pending: Pending | None = None,
        answer: Reply | None = None,
        counted: bool = False,
    ) -> None:
        """Queue a message that is no frame (an answer, a control message, a publish), in order.

        With ``to``, a control message for that node: its open batch closes, so
        that the tells queued after this go after it (a watch before a tell).
        With ``reply``, a request (a watch): ``pending`` is failed if it cannot be sent.
        With ``answer``, the answer to that ask (``on_lost`` gets it back on the batch).
        With ``counted``, a message whose loss counts as unsent (an answer, a publish).
        """
        if to is not None:
            self._open.pop(to, None)
        batch = self._new(subject, _NOBODY, payload)
        batch.reply = reply
        batch.pending = pending
        batch.answer = answer
        batch.counted = counted

    def publish(self, subject: str, payload: bytes) -> None:
        """Queue a topic publish, in order with every tell queued before it, to any actor.

        It closes every open batch: an actor on another node may be both told
        and subscribed, and a tell (or an ask) made after the publish must not
        join a batch queued before it (while the write buffer is full, the
        queue holds such batches).
        """
        self._open.clear()
        self.raw(subject, payload, counted=True)

    def seal(self, node: str) -> None:
        """Close ``node``'s open batch (a node that restarted): later tells start a new one."""
        self._open.pop(node, None)

    def drop(self, prefix: str) -> None:
        """Take the batches for subjects under ``prefix`` off the queue, as lost (a node gone).

        Their tells become dead letters now (``on_lost``) instead of being
        written to a node that can no longer take them; their asks were failed
        already. The rest keeps its order.
        """
        queue = self._queue
        dropped = [batch for batch in queue if batch.subject.startswith(prefix)]
        if not dropped:
            return
        # The new queue first: a dead letter's listener may queue more.
        self._queue = deque(batch for batch in queue if not batch.subject.startswith(prefix))
        for batch in dropped:
            if self._open.get(batch.address.node) is batch:
                del self._open[batch.address.node]
            batch.queued = False
            self._queued -= len(batch.data)
        for batch in dropped:
            self._on_lost(batch, None, None)
        if self._room and not self.full:
            self._room.unpark_all()

    def _new(
        self,
        subject: str,
        address: Address,
        data: bytearray | bytes,
        headers: HeadersLike | None = None,
    ) -> Batch:
        batch = Batch(subject, address, data, headers)
        batch.queued = True
        self._numbered = batch.number = self._numbered + 1
        self._queue.append(batch)
        self._queued += len(data)
        if self._lot:
            self._lot.unpark()
        return batch

    def _limit(self) -> int:
        return min(BATCH_BYTES, self._client.max_payload)

    def publish_now(self) -> None:
        """Publish what is queued, in order, while it fits in the write buffer (asks, answers)."""
        queue = self._queue
        client = self._client
        while queue:
            batch = queue[0]
            if not batch.data:  # an ask taken back (withdraw): nothing is left to send
                self._done(batch)
                continue
            try:
                client.publish_nowait(  # (bytes() copies a frame; a message's bytes pass as is)
                    batch.subject, bytes(batch.data), reply=batch.reply, headers=batch.headers
                )
            except OutboundBufferFull:
                if client.status is Status.CONNECTED:
                    return  # the task publishes the rest once there is room
                self._lose(batch, _CUT_OFF)
            except ConnectionClosed:
                self._lose(batch, _CUT_OFF)
            except MaxPayloadExceeded as error:
                # The server's max_payload was lowered (a reconnect to another server, an
                # INFO) after the batch was queued: it can never go; its ask fails so.
                self._lose(batch, f"it was not sent: {error} (lowered since it was queued)", error)
            except ValueError:
                # A subject nothing can be published to (an answer's reply subject, which
                # any client may send): it takes nothing later either, so no asker is told.
                batch.answer = None
                self._lose(batch, None)
            self._done(batch)

    def withdraw(self, batch: Batch) -> bool:
        """Take back the ask ending ``batch`` (its asker gave up) unless the batch left the queue.

        An ask whose asker was cancelled before it was written is not sent at
        all (Trio's rule: what raised ``Cancelled`` did not happen). The tells
        before it in its batch stay, in order; the entries queued after it for
        its node, under the same frame head, are numbered one less, so that the
        receiver sees no gap (nothing was lost). Returns whether it was taken
        back: ``False`` once its batch was handed to the connection (it may then
        arrive, and its answer is dropped) or lost.
        """
        if not batch.queued or batch.reply is None:
            return False
        data = batch.data
        assert isinstance(data, bytearray)  # (an ask's batch is a frame)
        at = batch.asked_at
        seq = _unpack_entry(data, at)[0]
        head = bytes(data[:FRAME_HEAD])
        batch.reply = None
        batch.pending = None
        if batch.messages:  # tells before it: they go as a batch of tells
            self._queued -= len(data) - at
            del data[at:]
        else:  # it was alone: the empty batch leaves the queue in its turn, unsent
            # (left in place: publish_now skips it when it reaches the front)
            self._queued -= len(data)
            data.clear()
        node = batch.address.node
        for later in self._queue:
            if later.address is not _NOBODY and later.address.node == node:
                _renumber(later, head, seq)
        if self._room and not self.full:
            self._room.unpark_all()
        return True

    def _done(self, batch: Batch) -> None:
        batch.queued = False
        self._queue.popleft()
        if self._open.get(batch.address.node) is batch:
            del self._open[batch.address.node]
        self._queued -= len(batch.data)
        if self._room and not self.full:
            self._room.unpark_all()

    def _lose(self, batch: Batch, why: str | None, error: Exception | None = None) -> None:
        """``batch`` cannot be sent, because ``why``: its ask fails, its tells become dead letters.

        The ask fails with ``error`` if given, else with ``NodeUnreachable(why)``.
        """
        pending = batch.pending
        if pending is not None:
            failed = error or NodeUnreachable(pending.address, why or _CUT_OFF)
            pending.settle(outcome.Error(failed))
        self._on_lost(batch, why, error)

    async def wait_room(self) -> None:
        """Wait until the queue is back under ``QUEUE_BYTES``, or ``wake`` is called (a checkpoint).

        The caller checks again what it waited for (room, and that it may still
        send): a node gone or this node leaving wakes every waiter.
        """
        if self.full:
            await self._room.park()
        else:
            await trio.lowlevel.checkpoint()

    def wake(self) -> None:
        """Wake every sender waiting for room, to check again whether it may send at all."""
        if self._room:
            self._room.unpark_all()

    async def handed_on(self) -> None:
        """Wait until what is queued now has left the queue (published, or lost if it could not be).

        Batches queued later are not waited for. A checkpoint; the deadline is
        the caller's cancel scope.

        Raises:
            ConnectionLost, ConnectionClosed: as ``Client.flush``, while it waits for room.
        """
        last = self._numbered
        while self._queue and self._queue[0].number <= last:
            self.publish_now()
            if self._queue and self._queue[0].number <= last:
                # The write buffer is full: wait until it is read.
                await self._client.flush()
        await trio.lowlevel.checkpoint()

    async def run(self) -> None:
        """Publish the queue in order whenever it has something, waiting for room as needed."""
        client = self._client
        while True:
            while not self._queue:
                await self._lot.park()
            self.publish_now()
            if self._queue:  # the write buffer is full: wait until the server has read it
                try:
                    await client.flush()
                except (ConnectionLost, ConnectionClosed):
                    await trio.lowlevel.checkpoint()

    def close(self) -> None:
        """Publish what can be published now; the rest is lost (the node is leaving)."""
        self.publish_now()
        while self._queue:
            batch = self._queue[0]
            self._lose(batch, _LEFT)
            self._done(batch)


def _renumber(batch: Batch, head: bytes, withdrawn: int) -> None:
    """Number ``batch``'s entries after ``withdrawn`` one less, if it is a frame headed ``head``.

    The receiver reads one sequence of numbers per frame head; an entry taken
    back before it was sent must leave no gap in it.
    """
    data = batch.data
    if data[:FRAME_HEAD] != head:  # (another incarnation of the node: numbered apart)
        return
    assert isinstance(data, bytearray)
    end = len(data) - (_TOKEN if batch.reply is not None else 0)
    pos = FRAME_HEAD
    while pos < end:
        seq, length = _unpack_entry(data, pos)
        if seq > withdrawn:
            ENTRY.pack_into(data, pos, seq - 1, length)
        pos += _ENTRY_HEAD + length
