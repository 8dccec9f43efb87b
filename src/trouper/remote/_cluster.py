"""``Cluster``: one runtime's membership in a cluster of nodes over NATS.

Theory of operation
-------------------
A runtime opened with ``transport=Nats(...)`` makes its ``Cluster`` (the
``"remote"`` extension) and ``join``s: one NATS connection, seven callback
subscriptions (and one more while joining) and three background tasks
(heartbeats, the liveness check, the outbox), all in the runtime's Trio
thread. Nothing spends a task per message: the client's reader task calls
the callbacks, which decode and put messages straight into mailboxes
(``send_nowait``) or queue asks with a reply callback (``Cell.ask_soon``).

Inbound, in the order of arrival (one connection per node, so messages from
one node arrive in the order it sent them):

- ``P.actor.<me>.>``: tells and asks to this node's actors. The target is
  found by path (cached per subject) and the frame decoded; an undecodable
  one becomes a dead letter whose reason is the decoding error's text. A
  frame that names an earlier incarnation of this node (sent before its
  sender heard of the restart) is not delivered: its tells become dead
  letters ("node restarted") and its ask fails with ``NodeUnreachable``. A
  full mailbox never blocks the reader: the message is *held* in a queue of
  its target's (``_backlogs``) drained by one task per full target, and the
  target's later messages queue behind it, so order holds. At most
  ``backlog`` messages are held in all; beyond that they become dead letters
  ("mailbox full"), or ``MailboxFull`` answers for asks.
- ``P.node.<me>``: control (watch requests and their ``terminated`` answers,
  ``recheck``, ``whois``). A watch from another node registers a *proxy*
  watcher on the local actor, which publishes ``terminated`` to that node
  when it stops.
- ``P.node.<me>.*``: the answers to this node's watch requests, one subject
  per request (``P.node.<me>.<token>``).
- ``P.heartbeat.*``: every node's heartbeats. A node silent for two of its
  own intervals, one that says goodbye, and one that comes back under a new
  incarnation is *gone*: its pending asks fail with ``NodeUnreachable``,
  watchers of its actors get ``Terminated`` (reason ``NodeUnreachable``),
  proxies it registered here are dropped. A gone node that is heard from
  again (a healed partition) is alive again; what was reported stays
  reported. The record (``Peer``) of a node gone or never heard from for
  ``_FORGET_AFTER`` intervals, with no ask, watch or proxy on it, is dropped,
  so that records stay bounded; if it went silent, its incarnation and why
  it went are remembered (bounded too), and a record made again for it
  starts gone: the server may still hold its subscriptions (a dead host's,
  until the server's pings time out), which would take an ask nobody
  answers; heard again, it is back.
- ``P.topic.>``: topics published on other nodes (this node's own come back
  too and are skipped by their incarnation), delivered to the plain
  subscribers here; one queue subscription per queue group with members here
  takes the group's messages.
- ``P.locate``: cluster-wide name lookups.
- ``P.claim.<me>``, only while joining: another runtime's claim to this node's
  name. Each joiner claims its name before it asks whether the name is free
  (``whois``); one that hears a rival's claim before the server has its
  subscriptions gives way. The server keeps each connection's order, so of two
  runtimes joining under one name at once, one hears the other's claim in time,
  or the other's ``whois`` finds it subscribed: they never both get in.
- ``P.reply.<me>.*.*``: the answers to this node's asks, one subject per
  ask waiting (``P.reply.<me>.<node asked>.<number>``), so that the server's
  "no responders" on it fails that ask alone; each answer carries its token.
  An answered ask's subject goes to the next ask to that node (``Peer.free``).

Outbound: ``RemoteEndpoint`` queues tells, asks, answers and control messages
(watch requests, unwatches, ``recheck`` among them, so that whatever the
write buffer holds, the other node takes them in the order they were made)
in the ``Outbox`` (``_outbox``), which keeps them in order and batches a
burst of tells to one actor into one NATS message. The per-sender sequence
numbers let a receiver count the messages that an outage lost
(``statistics().lost``): core NATS is at most once. When this node's own
connection drops, every ask in flight fails with ``NodeUnreachable`` (its
reply could never come) and asks made meanwhile fail at once; an answer to
another node's ask that does not fit in the outage buffer is remembered, and
after the reconnect its asker gets ``NodeUnreachable`` instead (it would wait
until its deadline); every watch is registered again, in case a
``terminated`` was lost, and every node alive is sent ``recheck``: it
registers its watches here again, since a ``terminated`` this node sent may
have been lost with the connection.
A message the client drops unsent because the server lowered ``max_payload``
after it was handed on (its ``AsyncError`` carries the message) is read back
(``_publish_dropped``): a frame's tells become dead letters and its ask
fails with ``MaxPayloadExceeded``, an answer's asker gets that error, each is
counted unsent.
A node heard again after it was found gone is sent ``recheck`` too (its
watches here were dropped; it drops its proxies for this node). A watch
request that meets "no responders" on a node heard from lately waits for that
node's ``recheck`` or silence instead of reporting it gone.
"""

from __future__ import annotations

import logging
import math
import secrets
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext, suppress
from functools import partial
from typing import TYPE_CHECKING, Final

import attrs
import outcome
import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trouper._validate import check_name
from trouper.actors import ActorRef, Address, Watcher
from trouper.codec import Codec
from trouper.errors import (
    ActorStopped,
    CallbackAskUnsupported,
    MailboxFull,
    NodeNameTaken,
    NodeUnreachable,
    UndecodableMessage,
    UnencodableMessage,
    UnregisteredMessageType,
)
from trouper.nats import (
    AsyncError,
    Client,
    ClientEvent,
    Closed,
    ConnectionClosed,
    ConnectionLost,
    Disconnected,
    Headers,
    MaxPayloadExceeded,
    Msg,
    NatsError,
    NoResponders,
    OutboundBufferFull,
    Reconnected,
    Status,
    Subscription,
    connect,
)
from trouper.remote._endpoint import (
    MSG_ID_HEADER,
    YIELD_EVERY,
    HereEndpoint,
    Liveness,
    Pending,
    RemoteEndpoint,
    why_restarted,
)
from trouper.remote._outbox import Batch, Outbox, Reply
from trouper.remote.wire import (
    ENTRY,
    FAILED,
    FRAME_HEAD,
    NO_INCARNATION,
    OK,
    REF,
    WireError,
    check_token,
    error_from_wire,
    error_to_wire,
    pack,
    path_of_token,
    unpack,
)
from trouper.runtime import DeadLetter, DeadLetterReason, Runtime
from trouper.runtime.lowlevel import (
    Cell,
    Endpoint,
    register_extension,
    release_frames_unless_failing,
)
from trouper.topics import Subscription as TopicSubscription
from trouper.topics import TopicRegistry, pattern_matches

if TYPE_CHECKING:
    from trouper.remote._transport import Nats

__all__ = ["Cluster", "ClusterStatistics", "Peer"]

log = logging.getLogger("trouper.remote")

UNREACHABLE: Final = "node unreachable"
"""The dead-letter reason of a tell to a node that is gone (or when this node is cut off)."""

RESTARTED: Final = "node restarted"
"""The dead-letter reason of a message that reached this node for an earlier process of it."""

_WRITE_BUFFER: Final = 8 * 1024 * 1024
"""Bytes the connection buffers before the outbox waits for the server to read them."""

_ENDPOINT_CACHE: Final = 4096
"""Remote endpoints (and inbound targets) remembered; the caches are emptied at this size."""

_FLUSH_BOUND: Final = 1.0
"""Seconds the goodbye may take to reach the server when the node leaves (and the close after)."""

_SETTLE_BOUND: Final = 0.1
"""Seconds the liveness check waits to read what the server has, before calling nodes gone."""

_FORGET_AFTER: Final = 10
"""This node's heartbeat intervals after which the record of a node not heard from is dropped.

(Gone, or never heard from, with no ask, watch or proxy of its.)"""

_FORGOTTEN: Final = 4096
"""Nodes gone silent whose records were dropped, remembered as gone (and to know them when back)."""

_ENDED: Final = 4096
"""Stops reported to watching nodes whose reasons are remembered, in case the notice was lost."""

_LOST_REPLIES: Final = 4096
"""Replies lost while this node was cut off that it remembers, to fail their asks once back."""


@attrs.frozen
class ClusterStatistics:
    """Counters of one node's traffic with the cluster since it joined."""

    sent: int
    """Tells, asks and topic publishes handed on (queued to be written to the server)."""
    received: int
    """Tells, asks and topic messages received from the cluster."""
    lost: int
    """Messages from other nodes known to be lost: gaps in their sequence numbers.

    Core NATS is at most once; a gap is seen when a later message from the
    same node arrives, so losses at the very end of a stream are not counted.
    """
    unsent: int
    """Messages that could not be sent (tells, asks, answers, topic publishes).

    A node gone, this node cut off with a full buffer or leaving before the
    server read them, or a message over a ``max_payload`` lowered since it
    was queued. A tell, an ask or a publish counted here was counted in
    ``sent`` too, when it was queued.
    """
    undecodable: int
    """Messages received that could not be decoded (each became a dead letter)."""
    overflowed: int
    """Messages received while ``backlog`` messages were already held (dead letters)."""
    held: int
    """Messages held now, waiting for room in their actors' mailboxes (or for a pool's answer)."""
    reconnects: int
    """Times this node's connection to the cluster was re-established."""
    peers: int
    """Other nodes this node keeps a record of now: alive, addressed lately, or gone lately.

    A node gone (or never heard from) for ten heartbeat intervals, with no
    ask or watch of this node's waiting on it, is forgotten.
    """


class Peer:
    """Another node as this node knows it: liveness, sequence numbers, watches, asks."""

    __slots__ = (
        "asks",
        "dropped",
        "free",
        "head",
        "incarnation",
        "interval",
        "last_seen",
        "left",
        "node",
        "reply_subject",
        "seq",
        "since",
        "state",
        "tag",
        "watches",
        "why",
    )

    def __init__(self, node: str, own: bytes, reply_prefix: str) -> None:
        self.node = node
        # The node's name.
        self.reply_subject = reply_prefix + node
        # What the reply subjects of asks to it start with (a number follows).
        self.state = Liveness.UNKNOWN
        # Whether it is heard from (only heartbeats and goodbyes change it).
        self.incarnation: str | None = None
        # The incarnation of its last heartbeat (None until one came).
        self.left: str | None = None
        # The incarnation that said goodbye: its late heartbeats are ignored.
        self.interval = 1.0
        # Its heartbeat interval, as it announces it.
        self.last_seen = -math.inf
        # trio.current_time() of its last heartbeat.
        self.seq = 0
        # The sequence number of the last tell or ask sent to it (0 for a new incarnation).
        self.tag = NO_INCARNATION
        # Its incarnation as frames to it name it (bytes of ``incarnation``, or zeros).
        self.head = own + NO_INCARNATION
        # What frames to it start with: this node's incarnation, then ``tag``.
        self.why = ""
        # Why it is gone (meaningful while state is GONE).
        self.watches: dict[str, _Watch] = {}
        # Its actors watched from here, by path.
        self.asks: dict[str, Pending] = {}
        # Asks to it waiting for their replies, by reply subject (each has its own).
        self.free: list[str] = []
        # Reply subjects of answered asks, for later asks: an answered ask's subject
        # gets no "no responders", and a subject seen before skips the client's
        # check and the server's match (the subject of an ask given up is never reused).
        self.since = _now()
        # trio.current_time() when it was made, went gone, or came alive (its last change).
        self.dropped = False
        # Forgotten by the cluster (its state is then GONE, so endpoints holding it look again).

    @property
    def gone(self) -> bool:
        """Whether the node is gone (silent, left, or restarted)."""
        return self.state is Liveness.GONE


def _now() -> float:
    """``trio.current_time()``, or minus infinity outside a Trio run."""
    try:
        return trio.current_time()
    except RuntimeError:
        return -math.inf


class _Watch:
    """The watchers here of one remote actor."""

    __slots__ = ("endpoint", "watchers")

    def __init__(self, endpoint: RemoteEndpoint) -> None:
        self.endpoint = endpoint
        # Delivers to the watched actor; its address names it.
        self.watchers: dict[Watcher, None] = {}
        # Told once when it stops or its node is gone (insertion order).


class _Proxy:
    """Watches a local actor for another node, and tells that node when the actor stops."""

    __slots__ = ("cluster", "node", "path", "ref")

    def __init__(self, cluster: Cluster, node: str, path: str, ref: ActorRef[object]) -> None:
        self.cluster = cluster
        # Whose proxy it is.
        self.node = node
        # The watching node.
        self.path = path
        # The path the watching node knows the actor by.
        self.ref = ref
        # The local actor watched.

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        """The local actor stopped for good: tell the watching node (a ``Watcher``)."""
        self.cluster._proxy_fired(self, reason)


_unpack_entry = ENTRY.unpack_from
_pack_entry = ENTRY.pack
_ENTRY_HEAD: Final = ENTRY.size
_TOKEN: Final = 8
"""Bytes of the token that ends an ask's frame (and follows an answer's status byte)."""


class _Held:
    """A message from another node waiting for room in a full mailbox."""

    __slots__ = ("headers", "message", "reply")

    def __init__(self, message: object, headers: Headers | None, reply: Reply | None) -> None:
        self.message = message
        # What was sent.
        self.headers = headers
        # The NATS headers it came with: its msg_id, a trace context (None if none).
        self.reply = reply
        # Where the answer goes if it is an ask (None for a tell).


_Target = tuple[ActorRef[object], "Cell | None", "Endpoint[object]"]
"""An inbound subject's local actor: its ref, the cell behind it (if any), the ref's endpoint."""


class Cluster:
    """One runtime's membership in a cluster of nodes over NATS.

    Made by the runtime, once, as its ``"remote"`` extension (``rt.remote``
    uses it; ``trouper.remote.cluster_of(rt)`` returns it). It joins when the
    runtime attaches its transport (``open_runtime(node=..., transport=Nats(url))``)
    and leaves after the runtime's last actor has stopped. Everything runs in
    the runtime's Trio thread; see the module docstring for how.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        # The runtime whose node this is.
        self._options: Nats | None = None
        # The transport it joined with (None before join).
        self._client: Client | None = None
        # The connection, while joined (None before and after).
        self._outbox: Outbox | None = None
        # What this node sends to other nodes' actors, in order (while joined).
        self._incarnation = secrets.token_bytes(8)
        # Identifies this run of the node in frames and heartbeats.
        self._rival = False
        # Whether another runtime claimed this node's name while this one joined (``join``).
        self._codec = Codec(resolver=self.resolve)
        # Turns messages into bytes; refs in them into local or remote refs.
        self._prefix = "trouper"
        # The cluster's subject prefix.
        self._peers: dict[str, Peer] = {}
        # Every other node heard of or addressed, by name.
        self._endpoints: dict[Address, RemoteEndpoint] = {}
        # Remote endpoints by address (a cache: they hold no state of their own).
        self._targets: dict[str, _Target] = {}
        # Inbound subject -> the local ref it reaches, the cell behind it (re-found
        # once that cell has stopped) and the ref's endpoint.
        self._backlogs: dict[ActorRef[object], deque[_Held]] = {}
        # Messages held for full mailboxes, by target; each queue has one draining task.
        self._held = 0
        # Messages in all the backlogs together.
        self._seen: dict[bytes, int] = {}
        # The last sequence number received per (sender, receiver) incarnation pair.
        self._seen_topics: dict[bytes, int] = {}
        # The same for topic messages.
        self._topic_seq = 0
        # The sequence number of this node's last topic publish.
        self._proxies: dict[str, dict[str, _Proxy]] = {}
        # Proxies watching local actors, by watching node and path.
        self._ended: dict[tuple[str, str], object] = {}
        # The reasons (as on the wire) of the stops proxies reported, by watching node and
        # path (at most _ENDED, oldest first): a node whose notice was lost and that watches
        # again (its recheck) gets the real reason, not None.
        self._groups: dict[tuple[str, str], Subscription] = {}
        # NATS queue subscriptions of the queue groups with members here.
        self._shared: dict[str, bool] = {}
        # Whether a subject is shared with the cluster, by subject (a cache).
        self._nursery: trio.Nursery | None = None
        # Where held messages drain, watches are made and asks to pools wait.
        self._wake_liveness: trio.CancelScope | None = None
        # Cancelled to make the liveness check look at a new node now.
        self._topic_cut = len("trouper.topic.")
        # Characters before a trouper subject in a topic's NATS subject.
        self._topic_head = self._incarnation + NO_INCARNATION
        # What this node's topic frames start with.
        self._reply_prefix = ""
        # What the reply subjects of this node's asks start with (a node's name follows).
        self._tokens = 0
        # The last ask token handed out (tokens are never reused).
        self._pending: dict[int, Pending] = {}
        # Asks from this node waiting for their replies, by token.
        self._lost_replies: deque[Reply] = deque(maxlen=_LOST_REPLIES)
        # Asks from other nodes whose answers were lost while this node was cut off (the
        # newest _LOST_REPLIES): told so once it is back.
        self._forgotten: dict[str, tuple[str, str]] = {}
        # The incarnation of each node gone silent whose record was dropped, and why it went,
        # by name (at most _FORGOTTEN, oldest first): a record made again for it starts gone,
        # and it is back when heard again, as if its record were kept.
        self._watch_answers: dict[int, Pending] = {}
        # Watch requests from this node waiting for their answers, by token.
        self._lookups: set[trio.Event] = set()
        # The events of the lookups (locate) waiting for answers: set when the connection
        # drops, since their answers may be lost with it.
        self._yield_budget = YIELD_EVERY
        # Bytes of tells that may still be sent before ``send`` yields.
        self._sent = self._received = self._lost = self._unsent = 0
        self._undecodable = self._overflowed = self._reconnects = 0
        # The counters of statistics().

    def __repr__(self) -> str:
        state = "joined" if self._client is not None else "not joined"
        return f"<Cluster node={self._runtime.node!r} {state}>"

    # --- what users read -------------------------------------------------------

    @property
    def node(self) -> str:
        """This node's name (the runtime's ``node``)."""
        return self._runtime.node

    @property
    def joined(self) -> bool:
        """Whether the node is in the cluster (between joining and leaving)."""
        return self._client is not None

    @property
    def connected(self) -> bool:
        """Whether the node is in the cluster and its connection to it is up now."""
        client = self._client
        return client is not None and client.status is Status.CONNECTED

    def nodes(self) -> tuple[str, ...]:
        """The nodes this node hears from now, itself included, sorted by name."""
        alive = [peer.node for peer in self._peers.values() if peer.state is Liveness.ALIVE]
        return tuple(sorted([self.node, *alive]))

    def statistics(self) -> ClusterStatistics:
        """This node's counters now."""
        return ClusterStatistics(
            sent=self._sent,
            received=self._received,
            lost=self._lost,
            unsent=self._unsent,
            undecodable=self._undecodable,
            overflowed=self._overflowed,
            held=self._held,
            reconnects=self._reconnects,
            peers=len(self._peers),
        )

    # --- refs -------------------------------------------------------------------

    def ref(self, node: str, name: str) -> ActorRef[object]:
        """A ref to the actor registered as ``name`` on ``node`` (what ``rt.remote`` returns).

        Its address is ``trouper://<node>/<name>``: the path of a top-level actor
        (a named child is reached by name too, under that address). On this
        node's own name it is the local actor's ref if one has the name, else a
        ref that finds the actor here each time it is used, never through the
        server (``HereEndpoint``). Nothing is checked remotely: an actor that
        does not exist shows as a stopped one (``ask`` raises ``ActorStopped``,
        tells become dead letters there).

        Raises:
            ValueError: ``node`` or ``name`` cannot be a node or an actor name.
            RuntimeError: called from outside the runtime's Trio run (another
                thread): it would fill this node's caches from there.
        """
        self._runtime.check_thread("ref")
        check_token(node, "a node name")
        check_name(name)
        address = Address(node, "/" + name)
        if node == self._runtime.node:
            local = self._runtime.lookup(name)
            return HereEndpoint(self, address).ref() if local is None else local
        return ActorRef(address, self._endpoint(address))

    def resolve(self, address: Address) -> ActorRef[object]:
        """A ref for an address read from a message: local for this node's addresses, else remote.

        An address here with no actor living at it gives a ref that finds one
        each time it is used (``HereEndpoint``): it never goes through the server.
        """
        if address.node == self._runtime.node:
            local = self._find_local(address.path)
            return HereEndpoint(self, address).ref() if local is None else local
        return ActorRef(address, self._endpoint(address))

    async def locate(self, name: str) -> ActorRef[object] | None:
        """Find the node that runs the actor registered as ``name``; return a ref to it.

        Looks here first, then asks every node of the cluster at once and
        returns as soon as one has it, or ``None`` once every node heard
        from has said it does not (a node that does not answer within two
        heartbeat intervals, from when the server has the request, counts as
        not having it). The deadline is the caller's cancel scope. The ref's
        address is the actor's real one.

        Raises:
            ValueError: ``name`` cannot be an actor name.
            NodeUnreachable: this node is not in a cluster, or is cut off from it
                (also when its connection drops while it waits: answers may be lost).
            RuntimeError: called from outside the runtime's Trio run (another thread).
        """
        self._runtime.check_thread("locate")
        check_name(name)
        local = self._runtime.lookup(name)
        if local is not None:
            await trio.lowlevel.checkpoint()
            return local
        address = Address(self.node, "/" + name)
        client = self._connected_client(address)
        reconnects = self._reconnects
        expected = {peer.node for peer in self._peers.values() if peer.state is Liveness.ALIVE}
        answered: set[str] = set()
        found: list[Address] = []
        done = trio.Event()

        def on_answer(msg: Msg) -> None:
            answer = unpack_or_none(msg.data)
            if not isinstance(answer, list) or len(answer) != 2:
                return
            node, path = answer
            if not isinstance(node, str) or not (path is None or isinstance(path, str)):
                return
            answered.add(node)
            if path is not None:
                found.append(Address(node, path))
            if found or expected <= answered:
                done.set()

        inbox = client.new_inbox()
        sub = client.subscribe_nowait(inbox, callback=on_answer)
        self._lookups.add(done)
        try:
            await client.publish(
                f"{self._prefix}.locate", pack(["locate", name, self.node]), reply=inbox
            )
            # The nodes have their two intervals from when the server has the request, not
            # from when it joined this node's unwritten bytes: else that reads as "nobody".
            with suppress(NatsError):  # (dropped meanwhile: done is set, and it is said below)
                if not done.is_set():
                    await client.flush()
            with trio.move_on_after(2 * self._interval()):
                await done.wait()
        except NatsError as error:  # (it could not be sent: cut off, or closed)
            raise NodeUnreachable(address, f"the lookup could not be sent: {error}") from None
        finally:
            self._lookups.discard(done)
            sub.unsubscribe_nowait()
        if found:
            return self.resolve(found[0])
        if client.status is not Status.CONNECTED or self._reconnects != reconnects:
            why = "this node's connection to the cluster dropped during the lookup"
            raise NodeUnreachable(address, why)  # (the answers may be lost: not a "no")
        return None

    async def flush(self) -> None:
        """Wait until the server has everything this node sent so far.

        Queue groups joined since are then in place too, so a publish made
        afterwards from any node reaches them. A round trip to the server;
        the deadline is the caller's cancel scope.

        Raises:
            NodeUnreachable: this node is not in a cluster, or is cut off from it.
            RuntimeError: called from outside the runtime's Trio run (another thread).
        """
        self._runtime.check_thread("flush")
        client = self._connected_client(Address(self.node, "/"))
        outbox = self._outbox
        try:
            if outbox is not None:
                await outbox.handed_on()  # (behind a full write buffer, some may wait there)
            await client.flush()
        except NatsError as error:
            raise NodeUnreachable(Address(self.node, "/"), f"the flush failed: {error}") from None

    def _endpoint(self, address: Address) -> RemoteEndpoint:
        endpoint = self._endpoints.get(address)
        if endpoint is None:
            if len(self._endpoints) >= _ENDPOINT_CACHE:
                self._endpoints.clear()
            endpoint = self._endpoints[address] = RemoteEndpoint(
                self, self._peer(address.node), address, self._prefix
            )
        return endpoint

    def _peer(self, node: str) -> Peer:
        peer = self._peers.get(node)
        if peer is None:
            peer = self._peers[node] = Peer(node, self._incarnation, self._reply_prefix)
            remembered = self._forgotten.pop(node, None)
            if remembered is not None:  # gone silent, its record dropped: still gone
                peer.incarnation, peer.why = remembered
                peer.state = Liveness.GONE
                peer.tag = bytes.fromhex(peer.incarnation)
                peer.head = self._incarnation + peer.tag
        return peer

    def _find_local(self, path: str) -> ActorRef[object] | None:
        """The living local actor at ``path``, or registered as its one segment."""
        runtime = self._runtime
        segments = path[1:].split("/")
        cell = runtime.names.get(segments[-1])
        if cell is not None and (len(segments) == 1 or cell.address.path == path):
            return None if cell.stopped else cell.ref
        return runtime.find(path)

    def _interval(self) -> float:
        return 1.0 if self._options is None else self._options.heartbeat

    def _connected_client(self, address: Address) -> Client:
        client = self._client
        if client is None:
            raise NodeUnreachable(address, "this node is not in a cluster (it has left)")
        if client.status is not Status.CONNECTED:
            raise NodeUnreachable(address, "this node's connection to the cluster is down")
        return client

    # --- joining and leaving -------------------------------------------------------

    @asynccontextmanager
    async def join(self, options: Nats) -> AsyncIterator[Cluster]:
        """Be a node of the cluster ``options`` names while the block runs (``Nats.attach``).

        Raises:
            NodeNameTaken: a running node already has this runtime's node name.
            ValueError: the node name cannot be a subject token.
            ConnectError, AuthorizationError: no server could be reached, or
                the credentials were refused (``trouper.nats``).
        """
        if self._options is not None:
            raise RuntimeError(f"node {self.node!r} has already joined a cluster")
        node = check_token(self._runtime.node, "a node name in a cluster")
        self._options = options
        self._prefix = prefix = options.prefix
        self._topic_cut = len(f"{prefix}.topic.")
        self._reply_prefix = f"{prefix}.reply.{node}."
        self._codec = Codec(options.registry, resolver=self.resolve)
        async with connect(
            list(options.servers),
            name=f"trouper node {node}",
            user=options.user,
            password=options.password,
            token=options.token,
            tls=options.tls,
            reconnect_wait=options.reconnect_wait,
            reconnect_max_wait=options.reconnect_max_wait,
            reconnect_jitter=min(0.1, options.reconnect_wait),
            max_reconnect_attempts=options.max_reconnect_attempts,
            connect_timeout=options.connect_timeout,
            write_buffer_size=_WRITE_BUFFER,
            on_event=self._on_client_event,
        ) as client:
            # Claimed before it is checked: see "P.claim.<me>" above.
            claims = await client.subscribe(f"{prefix}.claim.{node}", callback=self._on_claim)
            await client.publish(f"{prefix}.claim.{node}", self._incarnation)
            await self._check_name_is_free(client, node)
            await client.subscribe(f"{prefix}.actor.{node}.>", callback=self._on_actor_message)
            await client.subscribe(f"{prefix}.node.{node}", callback=self._on_control)
            await client.subscribe(f"{prefix}.node.{node}.*", callback=self._on_watch_answer)
            await client.subscribe(f"{prefix}.heartbeat.*", callback=self._on_heartbeat)
            await client.subscribe(f"{prefix}.locate", callback=self._on_locate)
            await client.subscribe(f"{prefix}.reply.{node}.*.*", callback=self._on_reply)
            if options.topics:
                await client.subscribe(f"{prefix}.topic.>", callback=self._on_topic)
            # The server has the subscriptions once this returns (a drop meanwhile is waited
            # out: the client makes them again when it reconnects).
            await _flush_across_drops(client)
            if self._rival:  # claimed by another before the server had this one's subscriptions
                raise NodeNameTaken(node)
            await claims.unsubscribe()
            topics: TopicRegistry = self._runtime.topics
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._client = client
                self._outbox = outbox = Outbox(client, self._batch_lost)
                nursery.start_soon(outbox.run)
                self._heartbeat(client, "up")
                nursery.start_soon(self._send_heartbeats, client)
                nursery.start_soon(self._check_liveness, client)
                topics.set_relay(self)
                try:
                    yield self
                finally:
                    # Left, publishes stay here, but one on a subject the cluster shared is
                    # still checked to encode: a message that could never cross says so.
                    topics.set_relay(_LeftRelay(self))
                    # What was handed on goes first (a full write buffer may hold some of it
                    # back), then the goodbye, all within one bound; what is left then is lost.
                    deadline = trio.current_time() + _FLUSH_BOUND
                    with trio.CancelScope(deadline=deadline, shield=True), suppress(NatsError):
                        await outbox.handed_on()
                    outbox.close()
                    self._heartbeat(client, "bye")
                    self._client = None
                    self._outbox = None
                    outbox.wake()  # senders waiting for room: they fail now (it has left)
                    with trio.CancelScope(deadline=deadline, shield=True), suppress(NatsError):
                        await client.flush()
                    self._fail_asks("this node left the cluster")
                    # A server that reads nothing (hung, or the network silent) must not keep
                    # the node from leaving: what it has not taken by then is dropped.
                    with trio.move_on_after(_FLUSH_BOUND) as scope:
                        scope.shield = True
                        try:
                            await client.close()
                        except ConnectionLost as error:  # it dropped while the rest was written
                            log.warning("node %s left; %s", self.node, error)
                    nursery.cancel_scope.cancel()
        self._nursery = None

    async def _check_name_is_free(self, client: Client, node: str) -> None:
        """Raise ``NodeNameTaken`` if a node answers to ``node``; no answer in time means free.

        A drop before the answer came is waited out (the client reconnects by
        itself) and the question asked again: it is no answer.
        """
        while True:
            lost = False
            with trio.move_on_after(max(1.0, 2 * self._interval())):
                try:
                    await client.request(f"{self._prefix}.node.{node}", pack(["whois"]))
                except NoResponders:
                    return
                except ConnectionLost:
                    lost = True
                else:
                    raise NodeNameTaken(node)
            if not lost:
                return  # nobody answered in time
            await _flush_across_drops(client)

    def _on_claim(self, msg: Msg) -> None:
        """Another runtime claims this node's name as both join (this one's own claim is not)."""
        if msg.data != self._incarnation:
            self._rival = True

    def _heartbeat(self, client: Client, kind: str) -> None:
        beat = [kind, self._incarnation.hex(), self._interval()]
        with suppress(NatsError):  # cut off or closing: the others will notice the silence
            client.publish_nowait(f"{self._prefix}.heartbeat.{self.node}", pack(beat))

    async def _send_heartbeats(self, client: Client) -> None:
        interval = self._interval()
        while True:
            await trio.sleep(interval)
            if client.status is Status.CONNECTED:
                self._heartbeat(client, "up")

    async def _check_liveness(self, client: Client) -> None:
        while True:
            if self._overdue():
                # Before calling a node gone, read everything the server already has
                # for this node: after a stall of this process, the heartbeats are there.
                with trio.move_on_after(_SETTLE_BOUND), suppress(NatsError):
                    await client.flush()
                for peer in self._overdue():
                    self._gone(
                        peer, f"node {peer.node!r} sent no heartbeat for {2 * peer.interval:g} s"
                    )
            if self._unheard():
                # The same for asks to nodes never heard from: a subscription the server keeps
                # for one that died (or stalled) before this node heard it takes them, and no
                # "no responders" comes; a live node is heard within one of its heartbeats.
                with trio.move_on_after(_SETTLE_BOUND), suppress(NatsError):
                    await client.flush()
                silence = 2 * self._interval()
                for peer in self._unheard():
                    why = f"no node {peer.node!r} is in the cluster"
                    why += f" (none was heard from in {silence:g} s)"
                    for pending in list(peer.asks.values()):
                        if pending.since + silence <= trio.current_time():
                            pending.settle(outcome.Error(NodeUnreachable(pending.address, why)))
            self._drop_forgotten()
            wake = trio.current_time() + self._interval()
            for peer in self._peers.values():
                if peer.state is Liveness.ALIVE:
                    wake = min(wake, peer.last_seen + 2 * peer.interval)
            with trio.CancelScope() as self._wake_liveness:
                await trio.sleep_until(wake)
            self._wake_liveness = None

    def _drop_forgotten(self) -> None:
        """Drop the records of nodes not heard from for ``_FORGET_AFTER`` intervals, if idle.

        Idle: no ask waits on it, none of its actors is watched from here, and
        none of this node's is watched for it. An endpoint holding a dropped
        record finds it ``dropped`` and takes the node's current one.
        """
        horizon = trio.current_time() - _FORGET_AFTER * self._interval()
        proxies = self._proxies
        idle = [
            peer
            for peer in self._peers.values()
            if peer.state is not Liveness.ALIVE
            and peer.since <= horizon
            and not peer.asks
            and not peer.watches
            and peer.node not in proxies
        ]
        for peer in idle:
            del self._peers[peer.node]
            if peer.gone and peer.left != peer.incarnation and peer.incarnation is not None:
                # Gone silent: the server may still hold its subscriptions, and it may yet
                # come back.
                forgotten = self._forgotten
                if len(forgotten) >= _FORGOTTEN:
                    del forgotten[next(iter(forgotten))]
                forgotten[peer.node] = (peer.incarnation, peer.why)
            self._forget(peer.incarnation)
            peer.state = Liveness.GONE
            peer.why = f"node {peer.node!r} is forgotten"
            peer.dropped = True

    def _unheard(self) -> list[Peer]:
        """The nodes never heard from with an ask waiting for two of this node's intervals."""
        horizon = trio.current_time() - 2 * self._interval()
        return [
            peer
            for peer in self._peers.values()
            if peer.state is Liveness.UNKNOWN
            and any(pending.since <= horizon for pending in peer.asks.values())
        ]

    def _overdue(self) -> list[Peer]:
        """The nodes alive so far that have been silent for two of their intervals."""
        now = trio.current_time()
        return [
            peer
            for peer in self._peers.values()
            if peer.state is Liveness.ALIVE and peer.last_seen + 2 * peer.interval <= now
        ]

    def _on_client_event(self, event: ClientEvent) -> None:
        if isinstance(event, Disconnected):
            log.warning("node %r lost its connection to the cluster: %s", self.node, event.reason)
            self._fail_asks("this node's connection to the cluster dropped")
            # Their answers may be lost with it: the reconnect makes every watch again.
            self._fail_watch_requests(ConnectionLost(f"the connection dropped: {event.reason}"))
            self._end_lookups()
        elif isinstance(event, Reconnected):
            log.info("node %r reconnected to the cluster at %s", self.node, event.server)
            self._reconnects += 1
            self._tell_lost_replies()
            for peer in self._peers.values():
                for watch in peer.watches.values():
                    self._establish_watch(peer, watch)
                if peer.state is Liveness.ALIVE:  # a terminated this node sent may be lost too
                    self._recheck(peer, forgot=False)
        elif isinstance(event, Closed):
            if self._client is not None:
                log.error(
                    "node %r is cut off from the cluster for good: %s", self.node, event.reason
                )
            self._fail_asks("this node's connection to the cluster is closed")
            self._fail_watch_requests(ConnectionClosed())
            self._end_lookups()
        elif isinstance(event, AsyncError):
            error, subject = event.error, event.subject
            if subject is not None and isinstance(error, MaxPayloadExceeded):
                assert event.payload is not None  # (a dropped publish carries it)
                self._publish_dropped(subject, event.reply, event.payload, error)
            else:
                log.warning("node %r: %s", self.node, error)

    def _recheck(self, peer: Peer, *, forgot: bool) -> None:
        """Ask ``peer`` to register its watches here again: a ``terminated`` may be lost.

        ``forgot``: this node found it gone and dropped its watches (``_gone``);
        it then drops what it watches for this node, since those watchers here
        were told ``Terminated`` then. Queued in order with the watch requests
        and unwatches to it, so it goes after those made before (which it
        undoes) and before any made from now on (lost cut off, with the outage
        buffer full: the reconnect sends one again).
        """
        self._control(peer.node, ["recheck", self.node, forgot])

    def _fail_watch_requests(self, error: NatsError) -> None:
        for answer in list(self._watch_answers.values()):
            answer.settle(outcome.Error(error))

    def _end_lookups(self) -> None:
        """The connection dropped: end the lookups' waits (each then says why it failed)."""
        for done in self._lookups:
            done.set()

    def _fail_asks(self, why: str) -> None:
        for peer in self._peers.values():
            for pending in list(peer.asks.values()):
                pending.settle(outcome.Error(NodeUnreachable(pending.address, why)))

    def _start(self, fn: Callable[..., object], *args: object) -> None:
        nursery = self._nursery
        if nursery is not None:
            nursery.start_soon(fn, *args)  # type: ignore[arg-type]

    # --- liveness ---------------------------------------------------------------------

    def _on_heartbeat(self, msg: Msg) -> None:
        node = msg.subject.rpartition(".")[2]
        if node == self.node:
            beat = unpack_or_none(msg.data)
            if isinstance(beat, list) and beat[1:2] != [self._incarnation.hex()]:
                log.error("another node named %r is in the cluster (they joined at once?)", node)
            return
        try:
            beat = unpack(msg.data)
            if not isinstance(beat, list) or len(beat) < 2:
                raise WireError("a heartbeat is a list")
            kind, incarnation = beat[0], beat[1]
            if not isinstance(incarnation, str) or len(incarnation) != 16:
                raise WireError("an incarnation is 16 hex digits")
            try:
                tag = bytes.fromhex(incarnation)
            except ValueError:
                raise WireError("an incarnation is 16 hex digits") from None
            peer = self._peer(node)
            if kind == "bye":
                peer.left = incarnation
                if peer.incarnation == incarnation and not peer.gone:
                    self._gone(peer, f"node {node!r} left the cluster")
                self._forget(incarnation)
                return
            if kind != "up" or incarnation == peer.left:
                return
            interval = beat[2] if len(beat) > 2 else 1.0
            if (
                isinstance(interval, bool)
                or not isinstance(interval, int | float)
                or not 0 < interval < math.inf  # (NaN too: such a node could never be gone)
            ):
                raise WireError("a heartbeat interval is finite seconds > 0")
            if peer.incarnation != incarnation:
                if peer.incarnation is not None and not peer.gone:
                    self._gone(peer, why_restarted(node))
                self._forget(peer.incarnation)
                peer.seq = 0  # number the messages to this incarnation from 1
                peer.tag = tag
                peer.head = self._incarnation + tag
                if self._outbox is not None:
                    self._outbox.seal(node)
            if (
                interval < peer.interval
                and peer.state is Liveness.ALIVE
                and self._wake_liveness is not None
            ):
                # Its silence is due sooner than the check was set for: set it again.
                self._wake_liveness.cancel()
            peer.interval = float(interval)
            peer.last_seen = trio.current_time()
            if peer.state is not Liveness.ALIVE or peer.incarnation != incarnation:
                # (Also gone silent, its record dropped since: _peer made it again as gone.)
                back = peer.gone and peer.incarnation == incarnation
                if peer.gone:
                    log.info("node %r is back in the cluster", node)
                peer.incarnation = incarnation
                peer.state = Liveness.ALIVE
                peer.since = trio.current_time()
                if self._wake_liveness is not None:
                    self._wake_liveness.cancel()
                if self._client is not None:
                    # A newcomer (or one back) learns of this node now, not a beat later.
                    self._heartbeat(self._client, "up")
                if back:  # the same process: its watches here were dropped when it went
                    self._recheck(peer, forgot=True)
        except WireError as error:
            log.warning(
                "node %r: a malformed heartbeat from %r ignored: %s", self.node, node, error
            )

    def _gone(self, peer: Peer, why: str) -> None:
        """``peer`` is gone: fail its asks, tell its actors' watchers, drop its proxies here."""
        log.warning("node %r: %s", self.node, why)
        peer.state = Liveness.GONE
        peer.why = why
        peer.since = trio.current_time()
        for pending in list(peer.asks.values()):
            pending.settle(outcome.Error(NodeUnreachable(pending.address, why)))
        outbox = self._outbox
        if outbox is not None:  # its tells still queued, and those waiting for room, fail now
            outbox.drop(f"{self._prefix}.actor.{peer.node}.")
            outbox.wake()
        watches, peer.watches = peer.watches, {}
        for watch in watches.values():
            ref = watch.endpoint.ref()
            for watcher in watch.watchers:
                watcher.terminated(ref, NodeUnreachable(ref.address, why))
        for proxy in self._proxies.pop(peer.node, {}).values():
            proxy.ref.endpoint.unwatch(proxy)

    def _forget(self, incarnation: str | None) -> None:
        """Drop the numbering of a node's incarnation that will never send again."""
        if incarnation is not None:
            origin = bytes.fromhex(incarnation)
            self._seen_topics.pop(origin, None)
            for key in [key for key in self._seen if key.startswith(origin)]:
                del self._seen[key]

    # --- watching -----------------------------------------------------------------------

    def _watch(self, endpoint: RemoteEndpoint, watcher: Watcher) -> None:
        address = endpoint.address
        peer = self._peer(address.node)
        if self._client is None or peer.gone:
            why = (
                "this node is not in a cluster (it has left)" if self._client is None else peer.why
            )
            watcher.terminated(endpoint.ref(), NodeUnreachable(address, why))
            return
        watch = peer.watches.get(address.path)
        if watch is None:
            watch = peer.watches[address.path] = _Watch(endpoint)
            self._establish_watch(peer, watch)
        watch.watchers[watcher] = None

    def _unwatch(self, endpoint: RemoteEndpoint, watcher: Watcher) -> None:
        address = endpoint.address
        peer = self._peers.get(address.node)
        watch = None if peer is None else peer.watches.get(address.path)
        if peer is None or watch is None:
            return
        watch.watchers.pop(watcher, None)
        if not watch.watchers:
            del peer.watches[address.path]
            self._control(address.node, ["unwatch", self.node, address.path])

    def _establish_watch(self, peer: Peer, watch: _Watch) -> None:
        """Ask the watched actor's node to tell this node when the actor stops.

        The request is queued now, in the outbox, in order with the tells,
        unwatches (and ``recheck``) to that node: a tell made right after the
        watch (which may stop the actor) must not overtake it, one that overtook
        an earlier unwatch would have its proxy dropped there, and one overtaken
        by a later unwatch would leave a proxy that watches for nobody. A task
        waits for the answer, which comes on a subject of its own
        (``P.node.<this node>.<token>``).
        """
        client = self._client
        outbox = self._outbox
        address = watch.endpoint.address
        if client is None or outbox is None or peer.watches.get(address.path) is not watch:
            return  # left, or unwatched meanwhile: asking would leak a proxy
        self._tokens = token = self._tokens + 1
        answer = self._watch_answers[token] = Pending(address)
        prefix = self._prefix
        outbox.raw(
            f"{prefix}.node.{peer.node}",
            pack(["watch", self.node, address.path]),
            to=peer.node,
            reply=f"{prefix}.node.{self.node}.{token}",
            pending=answer,
        )
        self._start(self._await_watch, client, outbox, peer, watch, token, answer)

    async def _await_watch(
        self, client: Client, outbox: Outbox, peer: Peer, watch: _Watch, token: int, answer: Pending
    ) -> None:
        """Wait for the answer to watch request ``token`` (``_establish_watch``), act on it."""
        try:
            await self._watch_answered(client, outbox, peer, watch, answer)
        finally:
            del self._watch_answers[token]

    async def _watch_answered(
        self, client: Client, outbox: Outbox, peer: Peer, watch: _Watch, answer: Pending
    ) -> None:
        address = watch.endpoint.address
        # The node has its time to answer from when the request is written, not from when it
        # joined this node's backlog (a full write buffer): else that is reported as its silence.
        with suppress(NatsError):  # (cut off: the answer fails, and the reconnect asks again)
            await outbox.handed_on()
        with trio.move_on_after(max(2.0, 4 * peer.interval)) as scope:
            try:
                data = await answer.wait()
            except NoResponders:
                if peer.state is Liveness.ALIVE:
                    return  # heard from lately, so reconnecting: its recheck or silence settles it
                why = f"no node {peer.node!r} is in the cluster"
                self._end_watch(peer, watch, NodeUnreachable(address, why))
                return
            except (NatsError, NodeUnreachable):  # (the latter: it could not be written)
                if client.status is Status.CLOSED:  # no reconnect will make it again
                    why = "this node's connection to the cluster is closed"
                    self._end_watch(peer, watch, NodeUnreachable(address, why))
                return  # cut off: the watch is made again after the reconnect
        if scope.cancelled_caught:
            if peer.watches.get(address.path) is watch and not peer.gone:
                self._terminated(
                    peer,
                    address.path,
                    NodeUnreachable(address, f"node {peer.node!r} did not answer a watch"),
                )
                # A node only slow to answer (stalled) still takes the request: withdraw it
                # there, or it keeps watching for nobody.
                self._control(peer.node, ["unwatch", self.node, address.path])
            return
        try:
            said = unpack(data)
            if not isinstance(said, list) or not said:
                raise WireError("a watch answer is a list")
            if said[0] == "gone":
                wired = said[1] if len(said) > 1 else None
                self._end_watch(peer, watch, _reason_from_wire(wired, address))
        except WireError as error:
            log.warning(
                "node %r: a malformed watch answer from %r: %s", self.node, peer.node, error
            )

    def _on_watch_answer(self, msg: Msg) -> None:
        token = msg.subject.rpartition(".")[2]
        answer = self._watch_answers.get(int(token)) if token.isdecimal() else None
        if answer is None:
            return  # given up (timed out, or failed by a drop) or not one of this node's
        if msg.status == 503 and not msg.data:  # nobody takes that node's control subject
            answer.settle(outcome.Error(NoResponders(msg.subject)))
        else:
            answer.settle(outcome.Value(msg.data))

    def _end_watch(self, peer: Peer, watch: _Watch, reason: BaseException | None) -> None:
        """End ``watch`` with ``reason`` (``_terminated``): the answer to one of its requests.

        Not if the watch was withdrawn since: a watch made after it at the same
        path has its own request, and its answer (this one may be older: the
        actor may have started between the two) is the one that counts.
        """
        path = watch.endpoint.address.path
        if peer.watches.get(path) is watch:
            self._terminated(peer, path, reason)

    def _terminated(self, peer: Peer | None, path: str, reason: BaseException | None) -> None:
        """The watched actor at ``path`` on ``peer`` stopped: tell its watchers here, once."""
        watch = None if peer is None else peer.watches.pop(path, None)
        if watch is None:
            return
        ref = watch.endpoint.ref()
        for watcher in watch.watchers:
            watcher.terminated(ref, reason)

    def _proxy_fired(self, proxy: _Proxy, reason: BaseException | None) -> None:
        proxies = self._proxies.get(proxy.node)
        if proxies is not None and proxies.get(proxy.path) is proxy:
            del proxies[proxy.path]
            if not proxies:
                del self._proxies[proxy.node]
        wired = None if reason is None else error_to_wire(reason, self.node)
        self._control(proxy.node, ["terminated", self.node, proxy.path, wired])
        ended = self._ended
        key = (proxy.node, proxy.path)
        if key in ended:
            del ended[key]  # (so that it goes last: the oldest go first)
        elif len(ended) >= _ENDED:
            del ended[next(iter(ended))]
        ended[key] = wired  # kept in case the notice is lost with a connection

    def _control(self, node: str, message: list[object]) -> None:
        """Send a control message in order with this node's tells to ``node``."""
        outbox = self._outbox
        if outbox is not None:
            outbox.raw(f"{self._prefix}.node.{node}", pack(message), to=node)

    def _on_control(self, msg: Msg) -> None:
        try:
            message = unpack(msg.data)
            if not isinstance(message, list) or not message:
                raise WireError("a control message is a list")
            op = message[0]
            if op == "watch":
                node, path = _strings(message[1:], 2)
                self._watched_from(node, path, msg)
            elif op == "unwatch":
                node, path = _strings(message[1:], 2)
                proxy = self._proxies.get(node, {}).pop(path, None)
                if proxy is not None:
                    proxy.ref.endpoint.unwatch(proxy)
            elif op == "terminated":
                node, path = _strings(message[1:3], 2)
                wired = message[3] if len(message) > 3 else None
                reason = _reason_from_wire(wired, Address(node, path))
                self._terminated(self._peers.get(node), path, reason)
            elif op == "recheck":
                [node] = _strings(message[1:], 1)
                self._rechecked(node, forgot=len(message) > 2 and message[2] is True)
            elif op == "whois":
                if msg.reply:
                    self._respond_to(msg, pack([self._incarnation.hex()]))
            else:
                raise WireError(f"unknown control {op!r}")
        except (WireError, NatsError) as error:
            log.warning("node %r: a malformed control message ignored: %s", self.node, error)

    def _rechecked(self, node: str, *, forgot: bool) -> None:
        """``node`` may have lost watches of this node's, or ``terminated`` notices: redo them."""
        peer = self._peers.get(node)
        if peer is None or peer.gone:
            return  # nothing watched there (it was all reported when it went)
        if forgot:
            for proxy in self._proxies.pop(node, {}).values():
                proxy.ref.endpoint.unwatch(proxy)
        for watch in peer.watches.values():
            self._establish_watch(peer, watch)

    def _watched_from(self, node: str, path: str, msg: Msg) -> None:
        ref = self._find_local(path)
        if ref is None:
            # A stop reported to that node (its notice maybe lost) keeps its reason.
            answer: list[object] = ["gone", self._ended.get((node, path))]
        else:
            self._ended.pop((node, path), None)  # watched anew: an older stop is not its
            proxies = self._proxies.setdefault(node, {})
            if path not in proxies:
                proxy = proxies[path] = _Proxy(self, node, path, ref)
                ref.endpoint.watch(proxy)
            answer = ["ok"]
        if msg.reply:
            self._respond_to(msg, pack(answer))

    # --- tells and asks from other nodes ----------------------------------------------

    def _on_actor_message(self, msg: Msg) -> None:
        # The hot path of every tell and ask from another node: inlined on purpose.
        subject = msg.subject
        data = msg.data
        try:
            target = self._targets.get(subject)
            if target is None or (target[1] is not None and target[1].stopped):
                target = self._target(subject)
            ref, _, endpoint = target
            key = data[:16]
            seen = self._seen
            last = seen.get(key)
            size = len(data)
            asked = msg.reply
            if asked is not None:  # an ask: its token ends the frame
                size -= 8
            pos = FRAME_HEAD
            if size <= pos:  # not even one entry: no frame (a plain NATS request, say)
                self._not_a_frame(subject, data, asked)
                return
            if last is None and data[8:16] != self._incarnation and data[8:16] != NO_INCARNATION:
                self._stale_frame(subject, data, size, asked)  # (a pair never seen: stale?)
                return
            reply: Reply | None
            codec = self._codec
            while pos < size:
                seq, length = _unpack_entry(data, pos)
                pos += 12
                if pos + length > size:  # cut short: the entry would run into the ask's token
                    self._not_a_frame(subject, data, asked)
                    break
                blob = data[pos : pos + length]
                pos += length
                self._received += 1
                if last is None or seq != last + 1:
                    self._count_lost(data, seq, last)
                last = seq
                reply = None if pos < size or asked is None else (asked, data[size:], subject)
                try:
                    message = codec.decode_blob(blob)
                except UndecodableMessage as error:
                    self._undecodable_message(subject, target, blob, error, reply)
                    continue
                if target is _NOBODY:
                    self._no_actor(subject, message, reply)
                elif reply is not None:
                    self._ask_local(ref, message, reply, msg.headers)
                elif msg.headers is None and not self._backlogs:
                    try:
                        endpoint.send_nowait(message)
                    except MailboxFull:
                        self._hold(ref, _Held(message, None, None))
                    except Exception as error:
                        self._refused(ref, message, error)
                else:
                    self._deliver(ref, message, msg.headers)
            if last is not None:
                seen[key] = last
        except struct.error:  # an entry's head cut short
            self._not_a_frame(subject, data, msg.reply)
        except Exception:  # a callback must never raise: it would close the connection
            log.exception("node %r: a message on %r could not be delivered", self.node, subject)

    def _count_lost(self, data: bytes, seq: int, last: int | None) -> None:
        """Count the messages a frame shows were lost before it (the rule is in ``_wire``).

        (A frame numbered for an earlier incarnation of this node never gets here.)
        """
        if last is None:
            last = 0
        if seq > last + 1:
            self._lost += seq - last - 1

    def _stale_frame(self, subject: str, data: bytes, size: int, asked: str | None) -> None:
        """A frame sent to an earlier process of this node (it restarted since): dead letters.

        Its messages were meant for the old process's actors, not for new ones
        that merely have their names (an incarnation names the process, as
        Akka's uid does): each becomes a dead letter ("node restarted"), and an
        ask gets ``NodeUnreachable`` back, as the sender's asks to the old
        process fail once it hears of the restart.
        """
        address = self._address_of(subject)
        why = f"node {self.node!r} restarted: the message was sent to its earlier process"
        error = NodeUnreachable(address, why)
        letters = self._runtime.dead_letters
        pos = FRAME_HEAD
        while pos < size:
            _, length = _unpack_entry(data, pos)  # (struct.error: the caller's, as for any frame)
            pos += _ENTRY_HEAD
            if pos + length > size:  # cut short: the entry would run into the ask's token
                self._not_a_frame(subject, data, asked)
                return
            blob = data[pos : pos + length]
            pos += length
            self._received += 1
            letters.post(DeadLetter(self._letter_message(blob), address, RESTARTED, error))
        if asked is not None:
            self._answer((asked, data[size:], subject), outcome.Error(error))

    def _undecodable_message(
        self,
        subject: str,
        target: _Target,
        blob: bytes,
        error: UndecodableMessage,
        reply: Reply | None,
    ) -> None:
        address = self._address_of(subject) if target is _NOBODY else target[0].address
        self._post_undecodable(blob, address, error)
        if reply:
            self._answer(reply, outcome.Error(error))

    def _not_a_frame(self, subject: str, data: bytes, asked: str | None) -> None:
        """Bytes on an actor's subject that are no frame, or one cut short: a dead letter.

        Entries before the cut were delivered. An ask gets ``UndecodableMessage``
        back (its token is the last 8 bytes, if the asker wrote one).
        """
        error = self._dead_frame(data, self._address_of(subject))
        if asked is not None:
            self._answer((asked, (bytes(8) + data)[-8:], subject), outcome.Error(error))

    def _dead_frame(self, data: bytes, recipient: Address) -> UndecodableMessage:
        """Bytes that are no trouper frame, or one cut short: a dead letter; the error."""
        error = UndecodableMessage(None, "not a trouper frame (no entry, or cut short)")
        self._post_undecodable(data, recipient, error)
        return error

    def _post_undecodable(self, data: bytes, recipient: Address, error: UndecodableMessage) -> None:
        """Count bytes for ``recipient`` that do not decode, and post them as a dead letter."""
        self._undecodable += 1
        self._runtime.dead_letters.post(DeadLetter(data, recipient, str(error), error))

    def _no_actor(self, subject: str, message: object, reply: Reply | None) -> None:
        """A message for a path where no actor lives here: a dead letter, ``ActorStopped``."""
        address = self._address_of(subject)
        self._runtime.dead_letters.post(
            DeadLetter(message, address, DeadLetterReason.ACTOR_STOPPED)
        )
        if reply:
            self._answer(reply, outcome.Error(ActorStopped(address)))

    def _address_of(self, subject: str) -> Address:
        return Address(self.node, path_of_token(subject.rpartition(".")[2]))

    def _target(self, subject: str) -> _Target:
        """The local actor an inbound subject names (``_NOBODY`` if none lives)."""
        ref = self._find_local(path_of_token(subject.rpartition(".")[2]))
        if ref is None:
            return _NOBODY
        endpoint = ref.endpoint
        cell = endpoint if type(endpoint) is Cell else getattr(endpoint, "cell", None)
        target = (ref, cell if isinstance(cell, Cell) else None, endpoint)
        if len(self._targets) >= _ENDPOINT_CACHE:
            self._targets.clear()
        self._targets[subject] = target
        return target

    def _deliver(self, ref: ActorRef[object], message: object, headers: Headers | None) -> None:
        """Put a tell in ``ref``'s mailbox now, or hold it (in order) while the mailbox is full."""
        if self._backlogs:
            backlog = self._backlogs.get(ref)
            if backlog is not None:
                self._hold(ref, _Held(message, headers, None))
                return
        msg_id = None if headers is None else headers.get(MSG_ID_HEADER)
        try:
            with self._delivering(headers):
                if msg_id is None:
                    ref.endpoint.send_nowait(message)
                else:
                    ref.endpoint.send_nowait(message, msg_id)
        except MailboxFull:
            self._hold(ref, _Held(message, headers, None))
        except Exception as error:
            self._refused(ref, message, error)

    def _refused(self, ref: ActorRef[object], message: object, error: Exception) -> None:
        """``ref``'s endpoint refused a tell from another node (a pool whose key raised).

        In one process the sender would get the error; a tell from another node
        has nobody to raise it to, so it becomes a dead letter with the error,
        as a topic message a subscriber's endpoint refuses does, and the
        messages after it are still delivered.
        """
        self._runtime.dead_letters.post(
            DeadLetter(message, ref.address, DeadLetterReason.DELIVERY_FAILED, error)
        )
        release_frames_unless_failing(self._runtime, error)  # (its locals: the router's, say)

    def _delivering(self, headers: Headers | None) -> AbstractContextManager[None]:
        """Where a message from another node is delivered: what its headers carry is current.

        Only around the delivery itself: a task started inside it (the drain of
        held messages) would keep that context for every message it delivers.
        """
        instruments = self._runtime.instruments
        if headers is None or not instruments.extract_headers:
            return nullcontext()
        return instruments.received(headers)

    def _offer(self, subscription: TopicSubscription, item: object) -> bool:
        """Deliver a topic message from another node without waiting (the registry's offer)."""
        ref = subscription.ref
        if self._backlogs and ref in self._backlogs:
            self._hold(ref, _Held(item, None, None))
            return True
        try:
            return ref.endpoint.send_nowait(item)
        except MailboxFull:
            self._hold(ref, _Held(item, None, None))
            return True

    def _ask_local(
        self,
        ref: ActorRef[object],
        message: object,
        reply: Reply,
        headers: Headers | None = None,
    ) -> None:
        ask_soon = getattr(ref.endpoint, "ask_soon", None)
        # Held behind the messages already held for it, or held because it
        # answers by task only, so that what follows waits for it.
        if (self._backlogs and ref in self._backlogs) or ask_soon is None:
            self._hold(ref, _Held(message, headers, reply))
            return
        try:
            if headers is None:
                ask_soon(message, partial(self._answer, reply))
            else:
                with self._delivering(headers):
                    ask_soon(message, partial(self._answer, reply))
        except (MailboxFull, CallbackAskUnsupported):  # no room, or by task only (broadcast)
            self._hold(ref, _Held(message, headers, reply))
        except Exception as error:  # refused (stopped, unhandled), or routing it raised: its answer
            self._answer(reply, outcome.Error(error))

    def _answer(self, reply: Reply, result: outcome.Outcome[object]) -> None:
        """Send an ask's outcome back to the asking node (``Cell.ask_soon``'s callback)."""
        outbox = self._outbox
        if outbox is None:
            return
        subject, token, _ = reply
        if isinstance(result, outcome.Value):
            value = result.value
            try:
                if type(value) is ActorRef:
                    address = value.address
                    payload = REF + token + pack([address.node, address.path])
                else:
                    payload = OK + token + self._codec.encode_blob(value)
            except (UnregisteredMessageType, UnencodableMessage) as error:
                payload = FAILED + token + pack(error_to_wire(error, self.node))
        else:
            assert isinstance(result, outcome.Error)
            payload = FAILED + token + pack(error_to_wire(result.error, self.node))
        client = self._client
        assert client is not None
        if len(payload) > client.max_payload:  # it could not cross: say so, or no answer comes
            too_big = MaxPayloadExceeded(len(payload), client.max_payload)
            payload = FAILED + token + pack(error_to_wire(too_big, self.node))
        self._respond(subject, payload, reply)

    def _respond_to(self, msg: Msg, payload: bytes) -> None:
        """Answer a request (a watch, a lookup, a name check) as ``_respond`` does.

        While the node joins (subscribed, its outbox not yet running) or
        leaves, straight on the connection (``NatsError`` if it cannot).
        """
        assert msg.reply is not None
        if self._outbox is None:
            try:
                msg.respond_nowait(payload)
            except ValueError as error:
                self._unanswerable(msg.reply, error)
        else:
            self._respond(msg.reply, payload)

    def _respond(self, subject: str, payload: bytes, reply: Reply | None = None) -> None:
        """Send an answer (to an ask, a watch, a lookup) now, or in order once there is room.

        A full write buffer queues it in the outbox instead of dropping it
        (the asker would wait in vain); cut off, it is lost and counted unsent.
        The answer to an ask (``reply``) lost so is remembered: once this node
        is back, its asker is told (``_tell_lost_replies``). A reply subject
        nothing can be published to (a wildcard in it: any client may send
        one) loses the answer too; it never raises (from a subscription's
        callback, that would cut the node off).
        """
        outbox = self._outbox
        client = self._client
        if outbox is None or client is None:
            return
        if outbox.empty:  # nothing to go first: publish it now
            try:
                client.publish_nowait(subject, payload)
            except OutboundBufferFull:
                if client.status is Status.CONNECTED:
                    # Sent once the server has read the rest.
                    outbox.raw(subject, payload, answer=reply, counted=True)
                else:
                    self._reply_lost(reply)
            except NatsError:
                self._reply_lost(reply)
            except ValueError as error:
                self._unanswerable(subject, error)
        else:
            outbox.raw(subject, payload, answer=reply, counted=True)
            outbox.publish_now()

    def _unanswerable(self, subject: str, error: ValueError) -> None:
        """An answer whose reply subject cannot be published to (not ours): counted, logged."""
        self._unsent += 1
        log.warning("node %r: an answer to %r could not be sent: %s", self.node, subject, error)

    def _reply_lost(self, reply: Reply | None) -> None:
        """An answer (or a publish: ``reply`` is ``None``) could not be written: count it.

        An ask's answer is remembered, to tell its asker once this node is back.
        """
        self._unsent += 1
        if reply is not None:
            self._lost_replies.append(reply)

    def _tell_lost_replies(self) -> None:
        """Back in the cluster: fail each ask whose reply was lost meanwhile (``NodeUnreachable``).

        Its asker, whose own connection may have stayed up, would otherwise
        wait for it until its deadline. An asker that gave up meanwhile
        ignores it, as any late answer.
        """
        lost, self._lost_replies = self._lost_replies, deque(maxlen=_LOST_REPLIES)
        why = f"its reply was lost while node {self.node!r} was cut off from the cluster"
        for reply in lost:
            subject, token, asked_on = reply
            error = NodeUnreachable(self._address_of(asked_on), why)
            self._respond(subject, FAILED + token + pack(error_to_wire(error, self.node)), reply)

    def _on_reply(self, msg: Msg) -> None:
        data = msg.data
        if msg.status == 503:  # nobody took this ask (its subject names it): no such node
            subject = msg.subject
            peer = self._peers.get(subject[len(self._reply_prefix) :].rpartition(".")[0])
            pending = None if peer is None else peer.asks.get(subject)
            if pending is not None:
                address = pending.address
                why = (
                    f"node {address.node!r} is not connected to the cluster now"
                    if peer is not None and peer.state is Liveness.ALIVE  # (reconnecting)
                    else f"no node {address.node!r} is in the cluster"
                )
                pending.settle(outcome.Error(NodeUnreachable(address, why)))
            return
        waiting = self._pending.get(int.from_bytes(data[1:9], "big"))
        if waiting is not None:  # else the asker gave up (or its connection dropped)
            waiting.settle(outcome.Value(data))

    def _read_reply(self, data: bytes, address: Address) -> object:
        """The value of a reply to an ask, or raise the error it carries."""
        status = data[:1]
        if status == OK:
            return self._codec.decode_blob(data[9:])
        if status == FAILED:
            try:
                raise error_from_wire(unpack(data[9:]), address.node)
            except WireError:
                pass
        elif status == REF:
            try:
                node, path = _strings(unpack(data[9:]), 2)
            except WireError:
                pass
            else:
                return self.resolve(Address(node, path))
        raise UndecodableMessage(None, f"the reply from {address} is not a trouper reply")

    # --- held messages ------------------------------------------------------------------------

    def _hold(self, ref: ActorRef[object], held: _Held) -> None:
        options = self._options
        if options is None or self._held >= options.backlog:
            self._overflowed += 1
            if held.reply is not None:
                self._answer(
                    held.reply,
                    outcome.Error(MailboxFull(ref.address, options.backlog if options else 0)),
                )
            else:
                self._runtime.dead_letters.post(
                    DeadLetter(held.message, ref.address, DeadLetterReason.MAILBOX_FULL)
                )
            return
        backlog = self._backlogs.get(ref)
        if backlog is None:
            backlog = self._backlogs[ref] = deque()
            self._start(self._drain, ref, backlog)
        backlog.append(held)
        self._held += 1

    async def _drain(self, ref: ActorRef[object], backlog: deque[_Held]) -> None:
        """Deliver ``ref``'s held messages in order, waiting for room in its mailbox."""
        try:
            while backlog:
                held = backlog[0]
                headers = held.headers
                with self._delivering(headers):
                    if held.reply is not None:
                        await self._ask_when_room(ref, held.message, held.reply)
                    else:
                        msg_id = None if headers is None else headers.get(MSG_ID_HEADER)
                        try:
                            await ref.endpoint.send(held.message, msg_id)
                        except Exception as error:
                            self._refused(ref, held.message, error)
                backlog.popleft()
                self._held -= 1
        finally:
            if self._backlogs.get(ref) is backlog:
                del self._backlogs[ref]
            self._held -= len(backlog)

    async def _ask_when_room(self, ref: ActorRef[object], message: object, reply: Reply) -> None:
        """Put a held ask in ``ref``'s mailbox, waiting for room, before the drain goes on.

        Its answer comes by callback, so the drain waits for room, not for the
        reply, and the target's later held messages follow the ask into its
        mailbox. A pool takes it at once if it can; one whose member is full is
        waited on at that member. A pool that must wait some other way (a full
        shared mailbox) or answers by task only (a broadcast) is asked here,
        its later held messages waiting until it answers: a task of its own
        would let them overtake it.
        """
        answer = partial(self._answer, reply)
        endpoint = ref.endpoint
        try:
            if type(endpoint) is Cell:
                await endpoint.ask_when_room(message, answer)
            else:
                await self._ask_pool_when_room(endpoint, message, answer)
        except Exception as error:  # stopped, unhandled, or its mailbox failed: the answer
            answer(outcome.Error(error))  # (as _ask_local's; raised here, it ended the node)

    async def _ask_pool_when_room(
        self,
        pool: Endpoint[object],
        message: object,
        answer: Callable[[outcome.Outcome[object]], None],
    ) -> None:
        """``_ask_when_room`` for a pool: at once if it takes it, else at its full member.

        A pool with no ``ask_soon``, one that answers by task only (a broadcast)
        or one that must wait some other way (a full shared mailbox) is asked
        here, and this waits for its reply.
        """
        ask_soon = getattr(pool, "ask_soon", None)
        if ask_soon is not None:
            full: Cell | None = None
            try:
                ask_soon(message, answer)
                return
            except MailboxFull as error:  # the member the pool picked, if it is one
                member = self._find_local(error.address.path)
                if member is not None and type(member.endpoint) is Cell:
                    full = member.endpoint
            except CallbackAskUnsupported:  # (a broadcast pool)
                pass
            except Exception as error:  # routing it raised (a hash pool's key): its answer
                answer(outcome.Error(error))
                return
            if full is not None:
                await full.ask_when_room(message, answer)
                return
        try:
            value = await pool.ask(message)
        except Exception as error:
            answer(outcome.Error(error))
        else:
            answer(outcome.Value(value))

    # --- topics ---------------------------------------------------------------------------------

    async def relay(self, subject: str, message: object) -> bool:
        """Publish a local publish to the cluster, if it shares the subject (a ``TopicRelay``).

        It leaves through the outbox, in order with the tells queued before it,
        and waits for room there as a tell does; one that cannot leave (this
        node left meanwhile, or it is cut off) is counted unsent.

        Raises ``UnregisteredMessageType``, ``UnencodableMessage`` or
        ``MaxPayloadExceeded`` before anything is delivered, for a subject the
        cluster shares.
        """
        client = self._client
        outbox = self._outbox
        if client is None or outbox is None or not self._shares(subject):
            return False
        blob = self._codec.encode_blob(message)
        size = len(self._topic_head) + ENTRY.size + len(blob)
        if size > client.max_payload:  # as a tell: the sender hears it cannot cross
            raise MaxPayloadExceeded(size, client.max_payload)
        await checkpoint_if_cancelled()
        # Through the outbox, as a tell: written straight to the connection, it overtook
        # the tells queued before it (an actor told and subscribed got them out of order).
        while outbox.full:  # woken by room, or by this node leaving
            await outbox.wait_room()
            if self._outbox is not outbox:  # left meanwhile: it cannot go
                self._unsent += 1
                return True
        # Numbered once it goes, not before it waits: publishes that waited together
        # carried one number, and the receiver counted the next one's skip as lost.
        self._topic_seq = seq = self._topic_seq + 1
        data = self._topic_head + _pack_entry(seq, len(blob)) + blob
        outbox.publish(f"{self._prefix}.topic.{subject}", data)
        outbox.publish_now()
        self._sent += 1
        await cancel_shielded_checkpoint()
        return True

    def _shares(self, subject: str) -> bool:
        shared = self._shared.get(subject)
        if shared is None:
            patterns = () if self._options is None else self._options.topics
            shared = any(pattern_matches(pattern, subject) for pattern in patterns)
            if len(self._shared) >= _ENDPOINT_CACHE:
                self._shared.clear()
            self._shared[subject] = shared
        return shared

    def group_joined(self, pattern: str, queue: str) -> None:
        """This runtime's first member of a queue group subscribed: join it on the server.

        The queue subscription is queued on the connection at once, in order
        with everything this node sends, so a ``flush()`` afterwards has it in
        place on the server.
        """
        key = (pattern, queue)
        client = self._client
        if key in self._groups or client is None:
            return
        try:
            self._groups[key] = client.subscribe_nowait(
                f"{self._prefix}.topic.{pattern}",
                queue=queue,
                callback=partial(self._on_group_message, pattern, queue),
            )
        except NatsError as error:
            log.warning("node %r could not join queue group %r: %s", self.node, queue, error)

    def group_left(self, pattern: str, queue: str) -> None:
        """This runtime's last member of a queue group left: leave it on the server."""
        sub = self._groups.pop((pattern, queue), None)
        if sub is not None:
            sub.unsubscribe_nowait()

    def _on_topic(self, msg: Msg) -> None:
        data = msg.data
        if data.startswith(self._incarnation):
            return  # this node's own publish, delivered here when it was made
        self._received += 1
        try:
            subject = msg.subject[self._topic_cut :]
            topics = self._runtime.topics
            wanted = topics.has_subscribers(subject)
            message = self._topic_frame(data, decode=wanted)
            if message is None or not wanted:
                return
            topics.deliver_nowait(subject, message, self._offer)
        except Exception:  # a callback must never raise
            log.exception(
                "node %r: a topic message on %r could not be delivered", self.node, msg.subject
            )

    def _on_group_message(self, pattern: str, queue: str, msg: Msg) -> None:
        self._received += 1
        try:
            message = self._topic_frame(msg.data, count=False)
            if message is None:
                return
            subject = msg.subject[self._topic_cut :]
            topics = self._runtime.topics
            if not topics.deliver_to_group(pattern, queue, subject, message, self._offer):
                self._runtime.dead_letters.post(
                    DeadLetter(
                        message,
                        Address(self.node, "/"),
                        f"queue group {queue!r} of {pattern!r} has no member left here",
                    )
                )
        except Exception:  # a callback must never raise
            log.exception("node %r: a queue group message could not be delivered", self.node)

    def _topic_frame(
        self, data: bytes, *, count: bool = True, decode: bool = True
    ) -> object | None:
        """The message in a topic frame (``None``: undecodable or cut short, now a dead letter).

        Counts a gap in the sender's numbering as lost (``count``); with
        ``decode`` false (nobody here wants it) only counts.
        """
        start = FRAME_HEAD + 12
        end = len(data)
        seq, length = _unpack_entry(data, FRAME_HEAD) if end >= start else (0, end)
        if start + length > end:  # no entry's head, or the message cut short
            if decode:  # reported as on an actor's subject, not only logged
                self._dead_frame(data, Address(self.node, "/"))
            return None
        blob = data[start : start + length]
        if count:
            origin = data[:8]
            last = self._seen_topics.get(origin)
            if last is not None and seq > last + 1:
                self._lost += seq - last - 1
            self._seen_topics[origin] = seq
        if not decode:
            return None
        try:
            return self._codec.decode_blob(blob)
        except UndecodableMessage as error:
            self._post_undecodable(blob, Address(self.node, "/"), error)
            return None

    # --- name lookups -----------------------------------------------------------------------------

    def _on_locate(self, msg: Msg) -> None:
        try:
            op, name, asker = _strings(unpack(msg.data), 3)
            if op != "locate" or asker == self.node or not msg.reply:
                return
            ref = self._runtime.lookup(name)
            self._respond_to(msg, pack([self.node, None if ref is None else ref.address.path]))
        except (WireError, NatsError) as error:
            log.warning("node %r: a malformed lookup ignored: %s", self.node, error)

    # --- tells that cannot go ---------------------------------------------------------------------

    def _publish_dropped(
        self, subject: str, reply: str | None, payload: bytes, error: MaxPayloadExceeded
    ) -> None:
        """The client dropped a publish of this node's unsent: what it carried learns so.

        The server's ``max_payload`` was lowered (an ``INFO``, a reconnect to
        another server) after the publish was handed to the connection, and
        before it was written. As for a batch the outbox still held
        (``Outbox.publish_now``): a frame's tells become dead letters saying
        why, the ask it ends with fails with ``error``, an answer is replaced
        by ``error`` for its asker (or it would wait until its deadline), and
        each is counted unsent. A cold path: the frame is read back from the
        payload the client reports, so nothing is kept per message until
        written (the receiver, missing the frame's numbers, counts them lost
        once a later frame arrives).
        """
        why = f"it was not sent: {error} (lowered before the connection wrote it)"
        prefix = self._prefix
        actors = f"{prefix}.actor."
        try:
            if subject.startswith(actors):
                node, _, token = subject[len(actors) :].partition(".")
                self._frame_dropped(Address(node, path_of_token(token)), reply, payload, why)
                if reply is not None:
                    self._unsent += 1  # the ask (counted sent when it was queued)
                    peer = self._peers.get(node)
                    pending = None if peer is None else peer.asks.get(reply)
                    if pending is not None:  # (else its asker gave up)
                        pending.settle(outcome.Error(error))
                return
            if subject.startswith(f"{prefix}.reply.") and payload[:1] in (OK, REF, FAILED):
                # An answer to another node's ask: its asker gets why instead, if that fits.
                self._unsent += 1
                answered = payload[1 : 1 + _TOKEN]
                failed = FAILED + answered + pack(error_to_wire(error, self.node))
                if len(failed) <= error.args[1]:
                    self._respond(subject, failed)
                    return
            if subject.startswith(f"{prefix}.topic."):  # a topic publish
                self._unsent += 1
                log.warning("node %r: a publish on %r %s", self.node, subject, why)
                return
        except Exception:  # an event handler must never raise: it would close the connection
            log.exception("node %r: a message to %r %s", self.node, subject, why)
            return
        log.warning("node %r: a message to %r %s", self.node, subject, why)

    def _frame_dropped(self, address: Address, reply: str | None, data: bytes, why: str) -> None:
        """Make dead letters of the tells of a frame for ``address`` the client dropped unsent.

        With a ``reply`` subject the frame ends with an ask: its entry, the
        last, and its token are no tell. Each tell's blob is decoded again
        (this node encoded it); one that does not decode is posted as its bytes.
        """
        end = len(data) - (_TOKEN if reply is not None else 0)
        blobs: list[bytes] = []
        pos = FRAME_HEAD
        while pos + _ENTRY_HEAD <= end:
            _, length = _unpack_entry(data, pos)
            pos += _ENTRY_HEAD
            blobs.append(data[pos : pos + length])
            pos += length
        if reply is not None:
            del blobs[-1:]
        peer = self._peer(address.node)
        for blob in blobs:
            self._unreachable(self._letter_message(blob), address, peer, why)

    def _letter_message(self, blob: bytes) -> object:
        """The message a dead letter of an entry's ``blob`` holds: decoded, or its bytes."""
        try:
            return self._codec.decode_blob(blob)
        except UndecodableMessage:
            return blob

    def _batch_lost(self, batch: Batch, why: str | None, error: Exception | None) -> None:
        """A batch could not be written at all (``why``; a node gone if ``None``): count it.

        Its tells become dead letters saying ``why``. An answer or a publish
        is counted unsent; an ask's answer is also remembered
        (``_reply_lost``), so that its asker is told once this node is back;
        one over a ``max_payload`` lowered since it was queued (``error``) is
        replaced by that error now instead (no reconnect may ever come).
        An ask (which the outbox failed) is counted unsent, as a tell is: it
        was counted sent when it was queued.
        """
        if batch.counted:  # an answer or a publish
            answer = batch.answer
            outbox = self._outbox
            if answer is not None and isinstance(error, MaxPayloadExceeded) and outbox is not None:
                subject, token, _ = answer
                failed = FAILED + token + pack(error_to_wire(error, self.node))
                if len(failed) <= error.args[1]:  # (else it could never go either)
                    self._unsent += 1
                    # Queued behind what the outbox is publishing: it calls this from its
                    # own loop, which publishes it next.
                    outbox.raw(subject, failed, answer=answer, counted=True)
                    return
            self._reply_lost(answer)
            return
        if batch.pending is not None and isinstance(batch.data, bytearray):
            self._unsent += 1  # an ask's frame (a watch request is a control message)
        if not batch.messages:  # a request, a control message
            return
        address = batch.address
        peer = self._peer(address.node)
        for message in batch.messages:
            self._unreachable(message, address, peer, why)

    def _unreachable(
        self, message: object, address: Address, peer: Peer, why: str | None = None
    ) -> None:
        """A tell that cannot go: a dead letter ("node unreachable"), by default saying why."""
        self._unsent += 1
        error = NodeUnreachable(address, self._why(peer) if why is None else why)
        self._runtime.dead_letters.post(DeadLetter(message, address, UNREACHABLE, error))

    def _why(self, peer: Peer) -> str:
        client = self._client
        if client is None:
            return "this node is not in a cluster (it has left)"
        if peer.gone:
            return peer.why
        return "this node's connection to the cluster is down"


class _Nobody:
    """Stands for a missing actor in the inbound table (never called)."""

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        raise AssertionError("unreachable")

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        raise AssertionError("unreachable")

    async def ask(self, message: object) -> object:
        raise AssertionError("unreachable")

    def watch(self, watcher: Watcher) -> None:
        raise AssertionError("unreachable")

    def unwatch(self, watcher: Watcher) -> None:
        raise AssertionError("unreachable")


class _LeftRelay:
    """The topic relay of a node that left: publishes stay here, each checked as it would cross.

    A publish on a subject the cluster shared raises ``UnregisteredMessageType``
    or ``UnencodableMessage`` for a message that could never cross, as while the
    node was in (not ``MaxPayloadExceeded``: no server says what fits any
    more), before anything is delivered here; it reaches no other node.
    """

    __slots__ = ("_cluster",)

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster  # the cluster it left (its codec and shared subjects)

    async def relay(self, subject: str, message: object) -> bool:
        cluster = self._cluster
        if cluster._shares(subject):
            cluster._codec.encode_blob(message)
        return False  # (its queue groups are served here)

    def group_joined(self, pattern: str, queue: str) -> None:
        pass  # no server to join a group on

    def group_left(self, pattern: str, queue: str) -> None:
        pass


_NOBODY_ENDPOINT = _Nobody()
_NOBODY: _Target = (ActorRef(Address("-", "/"), _NOBODY_ENDPOINT), None, _NOBODY_ENDPOINT)
"""What ``_target`` returns for a path no living local actor has."""


async def _flush_across_drops(client: Client) -> None:
    """``client.flush()``, again after each drop, until the server has answered it.

    The client reconnects by itself and subscribes again, so while a node
    joins a drop is waited out, not the join's failure.

    Raises:
        ConnectionClosed: the client gave up reconnecting.
    """
    while True:
        try:
            await client.flush()
        except ConnectionLost:
            continue  # (flush() waits for the reconnect, or raises if it never comes)
        return


def _reason_from_wire(wired: object, address: Address) -> BaseException | None:
    """What the actor at ``address`` stopped with, as its node wrote it (``None``: a normal stop).

    A reason that cannot be read here (another version's, say) is an
    ``UndecodableMessage`` saying so: the watchers are still told of the stop.
    """
    if wired is None:
        return None
    try:
        return error_from_wire(wired, address.node)
    except WireError as error:
        return UndecodableMessage(None, f"the reason {address} stopped with: {error}")


def _strings(value: object, count: int) -> list[str]:
    """``value`` as a list of at least ``count`` strings (its first ``count``)."""
    if not isinstance(value, list) or len(value) < count:
        raise WireError(f"expected a list of {count} strings")
    items = value[:count]
    if not all(isinstance(item, str) for item in items):
        raise WireError(f"expected a list of {count} strings")
    return items


def unpack_or_none(data: bytes) -> object:
    """``unpack(data)``, or ``None`` if it is not msgpack."""
    try:
        return unpack(data)
    except WireError:
        return None


register_extension("remote", Cluster)
