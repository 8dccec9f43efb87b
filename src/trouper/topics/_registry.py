"""The topic registry: subscribe actors to subject patterns, publish to them.

Theory of operation
-------------------
A ``Subscription`` is one (ref, pattern, options) entry. Subscriptions live in
one of two ``SubjectIndex`` tables: the *system* table holds the patterns that
begin with the literal tokens ``trouper.system``, the *user* table every other
one. User messages are published on the user table only (the ``trouper.system``
namespace is refused there) and the runtime's own reports on the system table
only, so a catch-all such as ``>`` never sees the runtime's events, as NATS
keeps ``$SYS`` apart from application subjects.

Publishing looks the subject up in a per-table cache of *plans*: the tuple of
subscriptions to deliver to, in subscribe order, with at most one
subscription per ref (the earliest of a ref's matching subscriptions decides
how it is delivered). A plan is built once per subject, from the index, and the
cache is emptied whenever the table changes, so the hot path is one dict lookup
and one loop. Everything a delivery needs (the endpoint's bound ``send`` and
``send_nowait``, the policy, whether to wrap) was computed at subscribe time.

Cleanup is driven by the runtime's event log: when an actor stops for good
(``EventKind.STOPPED``) every subscription of its address is cancelled; a
restart emits no such event, so subscriptions survive it. The same listener,
and one on the dead-letter office, publish lifecycle events and dead letters on
the system subjects, synchronously and with ``tell_nowait`` (the runtime never
waits on a subscriber). The registry listens only while it needs to: to the
event log while it holds any subscription, to the dead-letter office while it
holds a system one; otherwise the runtime does not even build the reports.

A full subscriber loses a report: it is counted, never turned into a dead
letter, and dead letters raised while a report is being delivered are not
reported again, nor is a report a system subscriber took and lost afterwards
(another node's, whose link broke), so a report can never feed itself. A
subscriber whose delivery raises (its endpoint refuses the message: a hash
pool whose key raises) loses it as a dead letter with the error, on every path
(``publish``, ``deliver_nowait``, reports); the subscribers after it still get
it.

Queue groups and nodes: a subscription made with ``queue=`` joins the *group*
of its (pattern, queue) and lives in ``_groups``, not in a table, so plans
hold plain subscriptions only. A publish gives each matching group's message
to one member, in turn. A *relay* (``set_relay``: ``trouper.remote`` on a
runtime that joined a cluster) carries publishes to the other nodes: it is
told of every publish before local delivery, and when it shares the subject
with the cluster the groups are served by the cluster (through the server,
which picks one member across every node), not here. Messages published on
other nodes come back through ``deliver_nowait`` and ``deliver_to_group``,
which never wait. While there is neither a group nor a relay, ``_routed`` is
false and ``publish`` pays one truth test for all this.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs
import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trouper.actors import ActorRef, ActorState, Address
from trouper.errors import ActorStopped, InvalidSubject, MailboxFull
from trouper.runtime import ActorEvent, DeadLetter, DeadLetterReason, EventKind, Listener, Runtime
from trouper.runtime.lowlevel import (
    Cell,
    Mailbox,
    SendKind,
    SharingEndpoint,
    cell_of,
    register_extension,
    release_frames_unless_failing,
)
from trouper.topics._subjects import SubjectIndex, parse_pattern, parse_subject

__all__ = [
    "SYSTEM_DEAD_LETTERS",
    "SYSTEM_PREFIX",
    "Overflow",
    "Published",
    "Subscription",
    "TopicRegistry",
    "system_subject",
]

SYSTEM_PREFIX = "trouper.system"
"""The namespace of the runtime's own topics; user messages may not be published in it."""

SYSTEM_DEAD_LETTERS = "trouper.system.dead_letters"
"""The subject dead letters are published on (the message is the ``DeadLetter``)."""

_SYSTEM_DOT = f"{SYSTEM_PREFIX}."

_EVENT_SUBJECTS = {kind: f"{SYSTEM_PREFIX}.actor.{kind.value}" for kind in EventKind}

_PLAN_LIMIT = 1024
"""Plans cached per table; the cache is emptied when it reaches this size."""

_STOPPED_REASON = DeadLetterReason.ACTOR_STOPPED
"""The dead-letter reason the engine gives once an actor's mailbox is closed."""

_TELL = SendKind.TELL
"""How a backpressure publish that finds room is reported: the tell it stands for."""


def system_subject(kind: EventKind) -> str:
    """Return the subject lifecycle events of ``kind`` are published on.

    ``system_subject(EventKind.FAILED)`` is ``"trouper.system.actor.failed"``.

    Raises:
        TypeError: ``kind`` is not an ``EventKind``.
    """
    try:
        return _EVENT_SUBJECTS[kind]
    except (KeyError, TypeError):  # (unhashable)
        raise TypeError(f"kind must be an EventKind, got {kind!r}") from None


class Overflow(enum.Enum):
    """What publishing does when a subscriber's mailbox is full (per subscription)."""

    BACKPRESSURE = "backpressure"
    """The publisher waits until there is room (``await ref.tell``); nothing is lost.

    The default for user topics.
    """
    DROP = "drop"
    """The message is not delivered (``tell_nowait``): it becomes a dead letter with
    reason ``"slow subscriber"`` and is counted. The only policy of system topics,
    whose drops are counted but not dead-lettered."""


@attrs.frozen
class Published:
    """A published message together with its subject (``subscribe(..., with_subject=True)``).

    The wrapper is what such a subscriber receives, so its handler takes
    ``Published`` and reads ``message`` from it. It is not generic: a handler's
    annotation must be a plain class. One instance is shared by every
    subscriber of one publish.
    """

    subject: str
    """The subject the message was published on (never a pattern)."""
    message: object
    """The message as the publisher gave it."""


@attrs.define(eq=False, repr=False)
class Subscription:
    """One actor's subscription to one subject pattern; ``cancel()`` ends it.

    Made by ``TopicRegistry.subscribe``, never directly. A handle compared by
    identity: subscribing the same ref with the same pattern twice gives two
    subscriptions (and still one delivery per publish). It stays inactive once
    cancelled, unsubscribed, or once its actor has stopped for good.
    """

    _registry: TopicRegistry
    _pattern: str
    _ref: ActorRef[object]
    _overflow: Overflow
    _with_subject: bool
    _system: bool
    # The address the cleanup is keyed on: the local cell's (which is what its
    # STOPPED event names) or, for a ref with no local cell, the ref's.
    _owner: Address
    _send: Callable[[object], Awaitable[bool]]
    _send_nowait: Callable[[object], bool]
    # The queue group it belongs to (with its pattern), or None for a plain one.
    _queue: str | None = None
    _drop: bool = attrs.field(init=False)
    _active: bool = attrs.field(default=True, init=False)
    _dropped: int = attrs.field(default=0, init=False)
    # A local actor subscriber with an in-memory mailbox (a publish that finds room in
    # it puts the message in at once, reported as a tell: it cannot wait), else None:
    # a publish to it may wait, and unsubscribing must end that.
    _cell: Cell | None = attrs.field(default=None, init=False)
    # The mailbox of the local actor behind the subscriber (a pool's ref: the pool
    # actor's), of any kind, else None (another node's ref): once it is closed
    # the actor is stopping for good, and a queue group passes over it.
    _actor_mailbox: Mailbox | None = attrs.field(default=None, init=False)
    # The publishes waiting on this subscriber through this subscription now (None:
    # none yet); each one's ``via`` is this subscription.
    _waits: list[_Wait] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self._drop = self._overflow is Overflow.DROP
        endpoint = self._ref.endpoint
        if isinstance(endpoint, Cell) and not endpoint.mailbox.durable:
            self._cell = endpoint
        try:
            cell = cell_of(self._ref)
        except TypeError:
            return  # no local actor (another node's): picked in turn whatever becomes of it
        self._actor_mailbox = cell.mailbox

    @property
    def pattern(self) -> str:
        """The subject pattern (``*`` one token, ``>`` one or more trailing tokens)."""
        return self._pattern

    @property
    def ref(self) -> ActorRef[object]:
        """The subscriber."""
        return self._ref

    @property
    def overflow(self) -> Overflow:
        """What publishing does when the subscriber's mailbox is full."""
        return self._overflow

    @property
    def with_subject(self) -> bool:
        """Whether the subscriber receives ``Published(subject, message)`` wrappers."""
        return self._with_subject

    @property
    def queue(self) -> str | None:
        """The queue group it belongs to (each message goes to one member), or ``None``."""
        return self._queue

    @property
    def active(self) -> bool:
        """Whether publishing still delivers through this subscription."""
        return self._active

    @property
    def dropped(self) -> int:
        """How many messages this subscription lost to a full mailbox."""
        return self._dropped

    def cancel(self) -> None:
        """End the subscription (``TopicRegistry.unsubscribe``). Idempotent."""
        self._registry.unsubscribe(self)

    def __repr__(self) -> str:
        state = "" if self._active else " cancelled"
        wrapped = " with_subject" if self._with_subject else ""
        queue = "" if self._queue is None else f" queue={self._queue!r}"
        return (
            f"<Subscription {self._pattern!r} -> {self._ref.address} "
            f"{self._overflow.value}{queue}{wrapped}{state}>"
        )


_Plan = tuple[Subscription, ...]


@attrs.define(eq=False)
class _Table:
    """Subscriptions by pattern, and the delivery plans cached by subject."""

    index: SubjectIndex[Subscription] = attrs.field(factory=SubjectIndex)
    plans: dict[str, _Plan] = attrs.field(factory=dict)

    def add(self, subscription: Subscription) -> None:
        self.index.add(subscription._pattern, subscription)
        self.plans.clear()

    def remove(self, subscription: Subscription) -> None:
        self.index.remove(subscription._pattern, subscription)
        self.plans.clear()

    def plan(self, subject: str) -> _Plan:
        """Build (and cache) the plan for a valid subject: one subscription per ref."""
        chosen: dict[ActorRef[object], Subscription] = {}
        for subscription in self.index.match(subject):
            chosen.setdefault(subscription._ref, subscription)
        plan = tuple(chosen.values())
        plans = self.plans
        if len(plans) >= _PLAN_LIMIT:
            plans.clear()
        plans[subject] = plan
        return plan


@attrs.define(eq=False)
class _Group:
    """This runtime's members of one queue group: the subscriptions with one (pattern, queue)."""

    pattern: str
    queue: str
    # The active members, in subscribe order; never empty while the group is registered.
    members: list[Subscription] = attrs.field(factory=list)
    # One member per ref (its earliest), in the order the refs joined: a ref subscribed
    # to the group twice (an actor that joins in on_start, after a restart) has one turn.
    turns: list[Subscription] = attrs.field(factory=list)
    # Where the next pick starts in turns (taken modulo their number).
    turn: int = 0

    def join(self, subscription: Subscription) -> None:
        """Add a member; a ref already in the group gets no second turn."""
        self.members.append(subscription)
        ref = subscription._ref
        if all(member._ref != ref for member in self.turns):
            self.turns.append(subscription)

    def leave(self, subscription: Subscription) -> None:
        """Take a member out; its ref keeps its turn through another membership, if any."""
        self.members.remove(subscription)
        turns = self.turns
        try:
            index = turns.index(subscription)
        except ValueError:
            return  # not its ref's turn-holder
        ref = subscription._ref
        for member in self.members:
            if member._ref == ref:
                turns[index] = member
                return
        # The member whose turn is next keeps it: one before it leaving moves it down.
        position = self.turn % len(turns)
        del turns[index]
        self.turn = position - 1 if index < position else position

    def pick(self) -> Subscription | None:
        """The member whose turn it is, round-robin over refs (``None`` if there is none).

        A local member whose mailbox is closed (stopping for good, its
        subscriptions not yet forgotten) is passed over for the next open one,
        as a round-robin pool passes over a closed member; with none open, the
        member whose turn it is (its message becomes a dead letter). Members
        with no local actor are always open to it.
        """
        members = self.turns
        count = len(members)
        if not count:
            return None
        index = self.turn % count
        member = members[index]
        mailbox = member._actor_mailbox
        if mailbox is not None and mailbox.closed:
            for step in range(1, count):
                candidate = members[(index + step) % count]
                mailbox = candidate._actor_mailbox
                if mailbox is None or not mailbox.closed:
                    index = (index + step) % count
                    member = candidate
                    break
        self.turn = index + 1
        return member


class TopicRelay(Protocol):
    """What carries a runtime's topics to other nodes (``trouper.remote`` is one).

    Installed with ``TopicRegistry.set_relay``; every method runs in the
    runtime's Trio thread.
    """

    async def relay(self, subject: str, message: object) -> bool:
        """Send a publish made here to the other nodes, before it is delivered here.

        Returns whether the cluster serves the subject's queue groups (the
        server then picks one member across every node, this runtime's
        included); ``False`` leaves them to this runtime. An error it raises
        leaves ``publish`` with nothing delivered.
        """
        ...

    def group_joined(self, pattern: str, queue: str) -> None:
        """The first member of this runtime's queue group (``pattern``, ``queue``) subscribed."""
        ...

    def group_left(self, pattern: str, queue: str) -> None:
        """The last member of this runtime's queue group (``pattern``, ``queue``) left."""
        ...


Offer = Callable[[Subscription, object], bool]
"""Delivers a message to a ``BACKPRESSURE`` subscriber without waiting (``deliver_nowait``).

Returns whether the subscriber has it (in its mailbox, or held in order for
it); it must never wait and never raise ``MailboxFull``.
"""


def _is_system_pattern(tokens: tuple[str, ...]) -> bool:
    return len(tokens) >= 2 and tokens[0] == "trouper" and tokens[1] == "system"


@attrs.define(eq=False, repr=False)
class TopicRegistry:
    """Publish/subscribe for one runtime: actors subscribe to patterns, anyone publishes.

    Reach it as ``runtime.topics`` (made on first use, one per runtime). Its
    methods belong to the runtime's Trio thread; ``subscribe`` and
    ``unsubscribe`` never wait. Lifecycle events and dead letters are
    published on ``trouper.system.*`` subjects while someone subscribes
    there; the registry listens to the runtime only while it holds
    subscriptions, so an unused one costs nothing.
    """

    _runtime: Runtime
    _user: _Table = attrs.field(factory=_Table, init=False)
    _system: _Table = attrs.field(factory=_Table, init=False)
    _by_owner: dict[Address, dict[Subscription, None]] = attrs.field(factory=dict, init=False)
    _dropped: int = attrs.field(default=0, init=False)
    _reporting: bool = attrs.field(default=False, init=False)
    _events: Listener | None = attrs.field(default=None, init=False)
    _letters: Listener | None = attrs.field(default=None, init=False)
    # Queue groups with at least one member here, by (pattern, queue).
    _groups: dict[tuple[str, str], _Group] = attrs.field(factory=dict, init=False)
    # The same groups, by pattern, for matching subjects.
    _group_index: SubjectIndex[_Group] = attrs.field(factory=SubjectIndex, init=False)
    # What carries publishes to other nodes (set_relay), or None.
    _relay: TopicRelay | None = attrs.field(default=None, init=False)
    # Whether a relay or a queue group exists: publish then takes the routed path.
    _routed: bool = attrs.field(default=False, init=False)

    def __repr__(self) -> str:
        return f"<TopicRegistry of {self._runtime!r}: {len(self)} subscriptions>"

    def __len__(self) -> int:
        """Return the number of active subscriptions."""
        grouped = sum(len(group.members) for group in self._groups.values())
        return len(self._user.index) + len(self._system.index) + grouped

    @property
    def dropped(self) -> int:
        """How many messages and reports were not delivered because a mailbox was full."""
        return self._dropped

    def subscriptions_of(self, ref: ActorRef[object]) -> tuple[Subscription, ...]:
        """Return ``ref``'s active subscriptions, oldest first.

        Raises:
            TypeError: ``ref`` is not an ``ActorRef``.
        """
        if not isinstance(ref, ActorRef):
            raise TypeError(f"expected an ActorRef, got {ref!r}")
        return tuple(s for s in self._by_owner.get(_owner_of(ref), ()) if s._ref == ref)

    # --- subscribing ------------------------------------------------------------

    def subscribe(
        self,
        ref: ActorRef[object],
        pattern: str,
        *,
        with_subject: bool = False,
        overflow: Overflow | None = None,
        queue: str | None = None,
    ) -> Subscription:
        """Deliver every message published on a subject matching ``pattern`` to ``ref``.

        Takes effect at once, for the publishes that start from now on. The
        subscription lasts until it is cancelled or its actor stops for good;
        it survives restarts. Each publish reaches a subscriber once, however
        many of its subscriptions match; the earliest of them decides the
        delivery (``with_subject``, ``overflow``).

        With ``queue``, the subscription joins the queue group named
        ``queue`` for ``pattern`` (as NATS's queue groups: the group is the
        pair): each message published on a matching subject goes to one
        member of the group, in turn, besides every plain subscriber; a ref
        has one turn however many of its subscriptions joined. On a
        runtime that joined a cluster (``trouper.remote``) the group spans
        the nodes: one member across all of them gets each message.

        Patterns that begin with ``trouper.system`` subscribe to the runtime's
        own reports, which are only ever dropped, never waited for: for them
        ``overflow`` is ``Overflow.DROP`` (the default there).

        Args:
            ref: the subscriber. A ref to an actor of this runtime is
                unsubscribed when that actor stops for good; any other ref
                stays subscribed until cancelled.
            pattern: dot-separated tokens; ``*`` matches exactly one token
                and a final ``>`` one or more tokens.
            with_subject: deliver ``Published(subject, message)`` instead of
                the bare message.
            overflow: what publishing does when the mailbox is full (default
                ``Overflow.BACKPRESSURE``, or ``Overflow.DROP`` for system
                topics).
            queue: the name of a queue group to join (a subject without
                wildcards, such as ``"workers"``), or ``None``.

        Raises:
            InvalidSubject: ``pattern`` does not follow the grammar.
            ActorStopped: ``ref``'s actor has already stopped for good.
            ValueError: ``overflow`` is not an ``Overflow``, is
                ``BACKPRESSURE`` for a system pattern, ``queue`` is not a
                valid name or is given for a system pattern, ``ref`` is an
                actor of another runtime, or ``ref``'s tells go into a durable
                mailbox (an actor's, a balancing pool's shared one, a
                ``durable_ref``'s) and ``with_subject`` is true or ``pattern``
                is a system pattern (that mailbox could store neither
                ``Published`` nor the runtime's reports).
            TypeError: ``ref`` is not an ``ActorRef``, or ``with_subject`` not a bool.
        """
        self._runtime.check_thread("subscribe")
        if not isinstance(ref, ActorRef):
            raise TypeError(f"the subscriber must be an ActorRef, got {ref!r}")
        if not isinstance(with_subject, bool):
            raise TypeError(f"with_subject must be a bool, got {with_subject!r}")
        system = _is_system_pattern(parse_pattern(pattern))
        if queue is not None:
            _check_queue(queue)
            if system:
                raise ValueError(
                    f"system topics have no queue groups: subscribe to {pattern!r} without queue"
                )
        if overflow is None:
            overflow = Overflow.DROP if system else Overflow.BACKPRESSURE
        elif not isinstance(overflow, Overflow):
            raise ValueError(f"overflow must be an Overflow member, got {overflow!r}")
        elif system and overflow is Overflow.BACKPRESSURE:
            raise ValueError(
                f"system topics are never waited for: subscribe to {pattern!r} "
                "with overflow=Overflow.DROP (the default for them)"
            )
        owner = self._check_alive(ref)
        _check_storable(ref, pattern, with_subject, system)
        endpoint = ref.endpoint
        subscription = Subscription(
            self,
            pattern,
            ref,
            overflow,
            with_subject,
            system,
            owner,
            endpoint.send,
            endpoint.send_nowait,
            queue,
        )
        if queue is None:
            (self._system if system else self._user).add(subscription)
        else:
            self._join(subscription, queue)
        self._by_owner.setdefault(owner, {})[subscription] = None
        self._listen()
        return subscription

    def _join(self, subscription: Subscription, queue: str) -> None:
        key = (subscription._pattern, queue)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(subscription._pattern, queue)
            self._group_index.add(group.pattern, group)
            self._routed = True
            group.join(subscription)
            if self._relay is not None:
                self._relay.group_joined(group.pattern, queue)
        else:
            group.join(subscription)

    def _leave(self, subscription: Subscription, queue: str) -> None:
        key = (subscription._pattern, queue)
        group = self._groups.get(key)
        if group is None:
            return
        group.leave(subscription)
        if not group.members:
            del self._groups[key]
            self._group_index.remove(group.pattern, group)
            self._routed = self._relay is not None or bool(self._groups)
            if self._relay is not None:
                self._relay.group_left(group.pattern, queue)

    def _check_alive(self, ref: ActorRef[object]) -> Address:
        try:
            cell = cell_of(ref)
        except TypeError:
            return ref.address  # not a local actor: nothing to watch
        if cell.runtime is not self._runtime:
            raise ValueError(f"{ref!r} is an actor of another runtime")
        if cell.state is ActorState.STOPPED:
            raise ActorStopped(ref.address)
        return cell.address

    def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription``: no publish that reaches it from now on delivers through it.

        Idempotent: ending an inactive subscription does nothing. A publish
        already waiting on another subscriber skips this one, and one waiting
        for room in this subscriber's mailbox gives up on it and moves on: once
        this returns, the subscription delivers nothing more (what is already in
        the mailbox stays). A message skipped so is neither counted nor a dead
        letter; a queue group's goes to the group's next member instead (unless
        this member is a broadcast pool, some of whose members may have it: it
        stays theirs), and a subscriber still subscribed through another pattern
        that matches gets it through that one.

        Raises:
            ValueError: ``subscription`` belongs to another registry.
            TypeError: ``subscription`` is not a ``Subscription``.
        """
        self._runtime.check_thread("unsubscribe")
        if not isinstance(subscription, Subscription):
            raise TypeError(f"expected a Subscription, got {subscription!r}")
        if subscription._registry is not self:
            raise ValueError(f"{subscription!r} belongs to another registry")
        if not subscription._active:
            return
        owned = self._by_owner.get(subscription._owner)
        if owned is not None:
            owned.pop(subscription, None)
            if not owned:
                del self._by_owner[subscription._owner]
        self._remove(subscription)
        self._listen()
        if subscription._waits:
            # Publishes waiting for room in its mailbox give up on it and move on,
            # except where another of its ref's subscriptions stands in for it.
            for wait in list(subscription._waits):
                self._end_wait(wait)

    def _end_wait(self, wait: _Wait) -> None:
        """End a publish's wait on a subscription just ended, or hand it to its stand-in.

        A local actor's cell takes a message whole or not at all: its wait is
        cancelled and the publish delivers through the stand-in afresh
        (``_redeliver``), in the stand-in's manner. Any other endpoint (a
        broadcast pool: one mailbox per member) may have given the message to
        some of its mailboxes already: sent again, they would get it twice. Its
        wait goes on instead, now through the ref's other matching subscription
        (which ending cancels it), and finishes as it began. A queue group's
        stand-in is another member: a pool whose tell may have reached some of
        its members (``splits_sends``) is cut off there and keeps the message,
        so that no second member of the group gets it.
        """
        left = wait.via
        endpoint = left._ref.endpoint
        if left._queue is None and not isinstance(endpoint, Cell):
            stand_in = self._stand_in(wait.subject, left)
            if stand_in is not None and stand_in._active:
                assert left._waits is not None
                left._waits.remove(wait)
                wait.via = stand_in
                if stand_in._waits is None:
                    stand_in._waits = []
                stand_in._waits.append(wait)
                return
        elif left._queue is not None and isinstance(endpoint, SharingEndpoint):
            # A queue group's message reaches one member: one whose mailboxes may
            # have part of it already (a broadcast pool's first members) keeps its
            # turn, and the group's next member does not get the message too.
            wait.kept = endpoint.splits_sends()
        wait.scope.cancel()

    def _remove(self, subscription: Subscription) -> None:
        subscription._active = False
        if subscription._queue is not None:
            self._leave(subscription, subscription._queue)
        else:
            (self._system if subscription._system else self._user).remove(subscription)

    def _forget(self, owner: Address, *, stopped: bool = False) -> None:
        owned = self._by_owner.pop(owner, None)
        if not owned:
            return
        if stopped:
            # The actor at ``owner`` stopped: a ref with no cell there (a
            # ``durable_ref``: no local actor's mailbox) reaches its stored mailbox,
            # which outlives it, so that ref's subscriptions stay until unsubscribed.
            kept = {s: None for s in owned if s._actor_mailbox is None}
            if kept:
                self._by_owner[owner] = kept
                owned = {s: None for s in owned if s not in kept}
        for subscription in owned:
            self._remove(subscription)
        self._listen()

    def _listen(self) -> None:
        """Listen to the runtime's reports exactly while subscriptions need them."""
        runtime = self._runtime
        # Whether any subscription is active (a registered group has members): not
        # ``len(self)``, which counts every group's members at each (un)subscribe.
        active = bool(self._user.index or self._system.index or self._groups)
        if self._events is None:
            if active:
                self._events = runtime.events.listen(self._on_event)
        elif not active:
            self._events.cancel()
            self._events = None
        if self._letters is None:
            if len(self._system.index):
                self._letters = runtime.dead_letters.listen(self._on_dead_letter)
        elif not len(self._system.index):
            self._letters.cancel()
            self._letters = None

    # --- publishing -------------------------------------------------------------

    async def publish(self, subject: str, message: object) -> int:
        """Deliver ``message`` to every subscriber whose pattern matches ``subject``.

        Subscribers are served one after another in the order they subscribed,
        each once. A backpressure subscriber with a full mailbox makes this
        wait (the subscribers after it wait too); a drop subscriber with a
        full mailbox loses the message, which becomes a dead letter with
        reason ``"slow subscriber"``; one whose delivery raises (its endpoint
        refuses the message) loses it as a dead letter with reason
        ``"delivery failed"`` and the error, and the rest still get it. A
        checkpoint: if cancelled while waiting, the subscribers before the
        one it waited on have the message and the rest do not; subscriptions
        made meanwhile are not served, cancelled ones are skipped (the one it
        waits on included), unless their subscriber is still subscribed through
        another pattern that matches, which then serves it. An actor that
        publishes on a subject it subscribes to with ``BACKPRESSURE`` waits for
        itself once its mailbox is full, as ``await self_ref.tell`` would:
        subscribe it with ``DROP`` there.

        Each matching queue group gives the message to one of its members,
        in turn (counted like a subscriber), after the plain subscribers. The
        member is picked among the group's members when the publish reaches
        the group, so one that left the group or began its stop for good while
        the publish waited gets no turn (and one that joined a group still there
        may get it); if the member picked leaves the group (unsubscribed, or its
        stop for good begins: then its dead letter all the same) while the
        publish waits for room in its mailbox, the group's next member gets the
        message (a group left empty, or whose every member is stopping, takes
        it nowhere else). On a runtime that joined a
        cluster, a subject the cluster shares goes to the other nodes first
        (an error encoding it leaves this call with nothing delivered), and
        its queue groups are served by the cluster, through the server.

        Returns:
            How many subscribers' mailboxes the message reached here: drops to
            full mailboxes, and subscribers that stopped (the message became
            their dead letter) while the publisher waited, are not counted, nor
            are other nodes' subscribers.

        Raises:
            InvalidSubject: ``subject`` is not a valid published subject (no
                wildcards), or lies in the reserved ``trouper.system`` namespace.
        """
        self._runtime.check_thread("publish")
        try:
            plan = self._user.plans.get(subject)
        except TypeError:  # unhashable: certainly not a subject
            plan = None
        if plan is None:
            plan = self._user_plan(subject)
        await checkpoint_if_cancelled()
        groups: tuple[_Group, ...] = ()
        if self._routed:
            groups = await self._route(subject, message)
        delivered = 0
        waited = False
        wrapped: Published | None = None
        for subscription in plan:
            if not subscription._active:
                if await self._redeliver(subject, message, subscription, wrapped):
                    delivered += 1
                continue
            item = message
            if subscription._with_subject:
                if wrapped is None:
                    wrapped = Published(subject, message)
                item = wrapped
            reached: bool | None
            try:
                if subscription._drop:
                    try:
                        reached = subscription._send_nowait(item)
                    except MailboxFull:
                        self._slow(subscription, item)
                        continue
                else:
                    cell = subscription._cell
                    if cell is not None and not cell.mailbox.full:
                        # In at once, with no checkpoint per subscriber: the publish's last.
                        reached = cell.send_nowait_as(item, _TELL)
                    else:
                        sent = await _send_unless_unsubscribed(subscription, item, subject)
                        reached = False if isinstance(sent, _Kept) else sent  # (never: no group)
                        waited = True
            except Exception as error:
                self._failed(subscription, item, error)
                continue
            if reached or (
                reached is None and await self._redeliver(subject, message, subscription, wrapped)
            ):
                delivered += 1
        for group in groups:
            # Picked at its turn, not when the publish began: a member that left the
            # group or began its stop for good while the publish waited is passed over.
            member = group.pick()
            if member is None:
                continue  # the group emptied meanwhile: as if it had gone before
            if member._with_subject and wrapped is None:
                wrapped = Published(subject, message)
            if await self._hand_over(subject, message, member, wrapped):
                delivered += 1
        if not waited:
            await cancel_shielded_checkpoint()
        return delivered

    async def _redeliver(
        self, subject: str, message: object, left: Subscription, wrapped: Published | None
    ) -> bool:
        """Deliver a message through what stands in for ``left``, which ended before it took it.

        ``left`` was unsubscribed, or its actor stopped for good, after the
        publish planned it and before it took the message (while the publish
        waited on an earlier subscriber, or on ``left`` itself). A queue
        group's message goes to the group's next member; a plain subscriber
        still subscribed through another pattern that matches gets it through
        that one. Returns whether a mailbox got it (``False``: nobody stands
        in, as if ``left`` had ended before the publish, or it was dropped or
        failed: a dead letter).
        """
        return await self._hand_over(subject, message, self._stand_in(subject, left), wrapped)

    async def _hand_over(
        self,
        subject: str,
        message: object,
        taker: Subscription | None,
        wrapped: Published | None,
    ) -> bool:
        """Deliver a message to ``taker`` as ``publish`` does, or to its stand-in if it leaves.

        ``taker`` unsubscribed while the publish waits for room in its mailbox
        hands the message on to what stands in for it (``_stand_in``), and so
        on. ``wrapped`` is the publish's ``Published``, if made yet. Returns
        whether a mailbox got it. ``publish`` writes the same steps out for
        its plain subscribers (a call per subscriber would cost its hot path):
        a change to one is due in the other.
        """
        while taker is not None:
            item: object = message
            if taker._with_subject:
                if wrapped is None:
                    wrapped = Published(subject, message)
                item = wrapped
            try:
                if taker._drop:
                    try:
                        return taker._send_nowait(item)
                    except MailboxFull:
                        self._slow(taker, item)
                        return False
                cell = taker._cell
                if cell is not None and not cell.mailbox.full:
                    return cell.send_nowait_as(item, _TELL)  # in at once: no wait
                # A local actor's mailbox still open as the wait begins, else None.
                opened = taker._actor_mailbox
                if opened is not None and opened.closed:
                    opened = None
                sent = await _send_unless_unsubscribed(taker, item, subject)
            except Exception as error:
                self._failed(taker, item, error)
                return False
            if isinstance(sent, _Kept):
                return False  # left with part of it, maybe: it stays there, for nobody else
            reached = sent
            if (
                reached is False
                and opened is not None
                and opened.closed
                and taker._queue is not None
            ):
                # A member whose stop for good began while the publish waited for room:
                # its mailbox refused the message (a dead letter to it, as the engine
                # makes of every send a stop refuses); the group's next member takes it,
                # unless every member is stopping (that dead letter is then the one).
                taker = self._stand_in(subject, taker)
                stopping = None if taker is None else taker._actor_mailbox
                if stopping is not None and stopping.closed:
                    return False
                continue
            if reached is not None:
                return reached
            taker = self._stand_in(subject, taker)
        return False

    def _stand_in(self, subject: str, left: Subscription) -> Subscription | None:
        """The subscription that now takes ``subject``'s message in ``left``'s place, if any."""
        queue = left._queue
        if queue is not None:
            group = self._groups.get((left._pattern, queue))
            return None if group is None else group.pick()
        ref = left._ref
        for subscription in self._user.plans.get(subject) or self._user.plan(subject):
            if subscription._ref == ref:
                return subscription
        return None

    async def _route(self, subject: str, message: object) -> tuple[_Group, ...]:
        """With queue groups or a relay: relay ``message`` first; return the groups to serve here.

        A publish the relay shares with the cluster reaches this node's queue
        groups through the cluster (each message to one member cluster-wide),
        so they are served here only when it is not shared. Each group's
        member is picked when its turn in the publish comes.
        """
        shared = False
        if self._relay is not None:
            shared = await self._relay.relay(subject, message)
        if self._groups and not shared:
            return tuple(self._group_index.match(subject))
        return ()

    # --- other nodes ----------------------------------------------------------------

    def set_relay(self, relay: TopicRelay | None) -> None:
        """Carry publishes to other nodes through ``relay`` from now on (``None``: stop).

        For the layer that joins the runtime to a cluster (``trouper.remote``),
        not for applications. The relay is told at once of every queue group
        that has members here, then of each group's first member joining and
        last member leaving.
        """
        self._runtime.check_thread("set_relay")
        self._relay = relay
        self._routed = relay is not None or bool(self._groups)
        if relay is not None:
            for pattern, queue in list(self._groups):
                relay.group_joined(pattern, queue)

    def has_subscribers(self, subject: str) -> bool:
        """Whether a message published on ``subject`` would reach a plain subscriber here.

        For the relay, to skip decoding what nobody here takes (queue groups are
        not counted). One dict lookup once the subject's plan is cached.

        Raises:
            InvalidSubject: ``subject`` is not a valid published subject.
        """
        plan = self._plan_for(subject)
        return bool(plan)

    def deliver_nowait(self, subject: str, message: object, offer: Offer) -> int:
        """Deliver a message published on another node to the plain subscribers here.

        For the relay. Each subscriber whose pattern matches gets it as
        ``publish`` would deliver it (``Published`` if it asked for the
        subject), except that nothing waits: a full ``DROP`` subscriber loses
        it (a dead letter, counted as by ``publish``), and each
        ``BACKPRESSURE`` subscriber is handed to ``offer(subscription,
        item)``, which delivers it without waiting, in order (holding it while
        the mailbox is full). Queue groups are left out (the cluster gives
        their messages to ``deliver_to_group``).

        Returns:
            How many subscribers got it (or hold it).

        Raises:
            InvalidSubject: ``subject`` is not a valid published subject.
        """
        plan = self._plan_for(subject)
        return self._offer(subject, message, plan, offer)

    def deliver_to_group(
        self, pattern: str, queue: str, subject: str, message: object, offer: Offer
    ) -> bool:
        """Give a message the cluster chose this runtime for to one member of a queue group.

        For the relay: the member whose turn it is, or the next one if that
        one's actor has stopped or its delivery raised (a dead letter to it
        either way); delivered as by ``deliver_nowait``. A full ``DROP``
        member whose turn it is loses it (a dead letter, counted), as in
        ``publish``, and no other gets it. When every member here is
        stopping, the one whose turn it is gets it as a dead letter, as
        ``publish`` does, and no other. Returns whether the group took it
        here, a member or that dead letter (``False``: the group has no member
        left here, or each member's delivery failed).
        """
        group = self._groups.get((pattern, queue))
        if group is None:
            return False
        for _ in range(len(group.turns)):
            member = group.pick()
            if member is None:
                break
            dropped = member._dropped
            if self._offer(subject, message, (member,), offer) or member._dropped != dropped:
                return True  # it has the message, or lost it to its full mailbox
            mailbox = member._actor_mailbox
            if mailbox is not None and mailbox.closed:
                return True  # picked although stopping: so is every member (a dead letter to it)
        return False

    def _offer(self, subject: str, message: object, plan: _Plan, offer: Offer) -> int:
        delivered = 0
        wrapped: Published | None = None
        for subscription in plan:
            if not subscription._active:
                continue
            item = message
            if subscription._with_subject:
                if wrapped is None:
                    wrapped = Published(subject, message)
                item = wrapped
            try:
                if subscription._drop:
                    try:
                        reached = subscription._send_nowait(item)
                    except MailboxFull:
                        self._slow(subscription, item)
                        continue
                else:
                    reached = offer(subscription, item)
            except Exception as error:
                self._failed(subscription, item, error)
                continue
            if reached:
                delivered += 1
        return delivered

    def _plan_for(self, subject: str) -> _Plan:
        """The user plan of ``subject``, cached or built (``publish`` inlines this)."""
        try:
            plan = self._user.plans.get(subject)
        except TypeError:  # unhashable: certainly not a subject (_user_plan says why)
            plan = None
        return self._user_plan(subject) if plan is None else plan

    def _user_plan(self, subject: str) -> _Plan:
        tokens = parse_subject(subject)
        if _is_system_pattern(tokens):
            raise InvalidSubject(
                subject, f"the {SYSTEM_PREFIX!r} namespace is reserved for the runtime's reports"
            )
        return self._user.plan(subject)

    def _slow(self, subscription: Subscription, item: object) -> None:
        subscription._dropped += 1
        self._dropped += 1
        self._runtime.dead_letters.post(
            DeadLetter(item, subscription._ref.address, DeadLetterReason.SLOW_SUBSCRIBER)
        )

    def _failed(self, subscription: Subscription, item: object, error: Exception) -> None:
        """Handing ``item`` to ``subscription`` raised: a dead letter with the error.

        Its own problem (a pool whose router rejects the message): it loses this
        message and the subscribers after it still get it. The frames the error
        went through below the publish have finished; their locals (the
        subscriber's endpoint, whatever its router built) are let go unless the
        runtime is failing, as the engine does with a handler's failure.
        """
        self._runtime.dead_letters.post(
            DeadLetter(item, subscription._ref.address, DeadLetterReason.DELIVERY_FAILED, error)
        )
        release_frames_unless_failing(self._runtime, error)  # (the running publish's frame stays)

    # --- system topics ------------------------------------------------------------

    def _on_event(self, event: ActorEvent) -> None:
        if event.kind is EventKind.STOPPED:
            self._forget(event.address, stopped=True)
        if len(self._system.index):
            self._report(_EVENT_SUBJECTS[event.kind], event)

    def _on_dead_letter(self, letter: DeadLetter) -> None:
        owned = self._by_owner.get(letter.recipient)
        if owned and letter.reason == _STOPPED_REASON and _stopping(owned):
            # The recipient's mailbox is closed: it is stopping for good and its
            # STOPPED event is on the way. Forget it now, so that the dead
            # letters of its own queue are not reported back to it. (A dead
            # letter of an earlier incarnation under the same address, told
            # through a stale ref, leaves the living actor's subscriptions,
            # also when a ref that reaches it by path subscribed first.) As
            # that event does, it keeps the refs with no local actor (by path,
            # a ``durable_ref``), which stay subscribed until cancelled.
            self._forget(letter.recipient, stopped=True)
            owned = self._by_owner.get(letter.recipient)
        if self._reporting or not len(self._system.index):
            return
        if owned and _is_report(letter.message) and any(s._system for s in owned):
            # A report that a system subscriber took and lost afterwards (its
            # endpoint queued it, as another node's does, and the link broke):
            # not reported again, as if it had failed during its delivery, or
            # each loss would make the next report for ever.
            return
        self._report(SYSTEM_DEAD_LETTERS, letter)

    def _report(self, subject: str, report: object) -> None:
        """Publish a runtime report now, without waiting; full subscribers lose it."""
        table = self._system
        plan = table.plans.get(subject)
        if plan is None:
            plan = table.plan(subject)
        if not plan:
            return
        wrapped: Published | None = None
        # Dead letters that this delivery causes (a subscriber whose mailbox has
        # just closed) are not reported again: no report may feed itself.
        reporting, self._reporting = self._reporting, True
        try:
            for subscription in plan:
                if not subscription._active:
                    continue
                item = report
                if subscription._with_subject:
                    if wrapped is None:
                        wrapped = Published(subject, report)
                    item = wrapped
                try:
                    subscription._send_nowait(item)
                except MailboxFull:
                    subscription._dropped += 1
                    self._dropped += 1
                except Exception as error:
                    self._failed(subscription, item, error)
        finally:
            self._reporting = reporting


class _Wait:
    """A publish waiting on a subscriber: what ``unsubscribe`` ends, or hands on."""

    __slots__ = ("kept", "scope", "subject", "via")

    def __init__(self, scope: trio.CancelScope, subject: str, via: Subscription) -> None:
        self.scope = scope
        # The publish's cancel scope around the send.
        self.subject = subject
        # The subject published on (what a stand-in must match).
        self.via = via
        # The subscription it waits through now; its ``_waits`` holds this.
        self.kept = False
        # Set when its end leaves the message where it went (some mailboxes of the
        # subscriber may have it): nobody stands in for it.


class _Kept:
    """What a send ended by ``unsubscribe`` returns when what it delivered stays (``_end_wait``)."""

    __slots__ = ()


_KEPT = _Kept()


async def _send_unless_unsubscribed(
    subscription: Subscription, item: object, subject: str
) -> bool | _Kept | None:
    """``send`` that ``unsubscribe`` can end while it waits: then nothing was delivered (``None``).

    A cancel scope costs about as much as the send, so only sends that may
    wait (a full mailbox, or an endpoint other than a local cell) pay for one.
    Ending the subscription may hand the wait on instead (``_end_wait``), or
    keep what was delivered of the message there, for nobody to stand in
    (``_KEPT``: not counted, not handed on, whatever else the caller sees).
    """
    with trio.CancelScope() as scope:
        wait = _Wait(scope, subject, subscription)
        waits = subscription._waits
        if waits is None:
            waits = subscription._waits = []
        waits.append(wait)
        try:
            return await subscription._send(item)
        finally:
            via_waits = wait.via._waits
            assert via_waits is not None
            via_waits.remove(wait)
    if wait.kept:
        return _KEPT  # part of it may be there: nobody else gets it
    return None  # unsubscribed while waiting: nothing delivered (the caller finds a stand-in)


def _check_storable(ref: ActorRef[object], pattern: str, with_subject: bool, system: bool) -> None:
    """Refuse to subscribe a ref whose durable mailbox cannot store what it would be sent.

    A ``Published`` carries any message, and a report (``DeadLetter``,
    ``ActorEvent``) any message and error: no codec writes them, so each
    publish would only become a dead letter (a report, not even that). The
    mailbox is the one the ref's tells go into: an actor's own, the one a
    balancing pool's members share (``Durable()`` makes the pool durable), or
    the one a ``durable_ref`` names.

    Raises:
        ValueError: ``ref``'s tells go into a durable mailbox, and ``with_subject``
            is true or ``pattern`` is a system pattern.
    """
    if not (with_subject or system):
        return
    endpoint = ref.endpoint
    if isinstance(endpoint, Cell):
        mailbox: Mailbox | None = endpoint.mailbox
    elif isinstance(endpoint, SharingEndpoint):
        mailbox = endpoint.shared_mailbox()
    else:
        return
    if mailbox is None or not mailbox.durable:
        return
    prefix = f"{ref.address} has a durable mailbox, which stores only registered message types: "
    if system:
        raise ValueError(
            f"{prefix}the runtime's reports on {pattern!r} cannot be stored; "
            "subscribe an actor with an in-memory mailbox to them"
        )
    raise ValueError(
        f"{prefix}subscribe it without with_subject=True (Published carries any message "
        "and cannot be stored)"
    )


def _is_report(message: object) -> bool:
    """Whether ``message`` is what the registry delivers to system subscribers."""
    if type(message) is Published:
        if not message.subject.startswith(_SYSTEM_DOT):
            return False
        message = message.message
    return type(message) is DeadLetter or type(message) is ActorEvent


def _check_queue(queue: object) -> None:
    if not isinstance(queue, str):
        raise ValueError(f"queue must be a queue group name (a str), got {queue!r}")
    try:
        parse_subject(queue)
    except InvalidSubject as error:
        raise ValueError(
            f"queue must be a name made of subject tokens without wildcards, got {queue!r}"
        ) from error


def _stopping(owned: dict[Subscription, None]) -> bool:
    """Whether the local actor that one owner's subscriptions reach takes no more messages.

    Only the subscriptions of refs to a local actor say so (an actor's, a stale
    incarnation's, a pool's); with none of them, no: a ref with no local actor
    stops with nobody here.
    """
    local = False
    for subscription in owned:
        mailbox = subscription._actor_mailbox
        if mailbox is not None:
            if not mailbox.closed:
                return False
            local = True
    return local


def _owner_of(ref: ActorRef[object]) -> Address:
    try:
        return cell_of(ref).address
    except TypeError:
        return ref.address


register_extension("topics", TopicRegistry)
