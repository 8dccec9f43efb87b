"""Pool endpoints: what a pool's ``ActorRef`` calls to tell and ask, one class per router.

Theory of operation
-------------------
A pool's ref pairs the pool actor's address with one of these endpoints (as
a plain actor's ref pairs it with its cell). The endpoint is the routing hot
path: it looks at the message's type once, hands ``Resize`` and ``Members``
to the pool actor's own cell, and sends anything else straight to the
chosen member's cell (or, for a balancing pool, into the shared mailbox):
no extra hop through the pool actor, no task per message.

The pool actor (``_pool``) owns the membership and is the only writer of
``members``; it replaces the tuple on every change, so a send that is
iterating an old tuple (a broadcast) finishes over the members it started
with. Everything here runs in the runtime's Trio thread; nothing blocks.

When the pool has stopped for good, ``close`` empties the members and, for a
balancing pool, closes the shared mailbox: what was queued becomes dead
letters (asks get ``ActorStopped``), and later tells and asks to the pool
behave as they do for any stopped actor.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import partial
from operator import itemgetter

import outcome
import trio
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
)

from trouper._text import type_name
from trouper.actors import Actor, ActorRef, ActorState, Exited, Terminated, Watcher
from trouper.errors import (
    ActorStopped,
    AskCycle,
    CallbackAskUnsupported,
    MailboxFull,
    UnhandledMessage,
)
from trouper.routing._messages import CONTROL
from trouper.routing._routers import (
    Balancing,
    Broadcast,
    ConsistentHash,
    HashRing,
    RoundRobin,
    Router,
    key_hash,
)
from trouper.runtime import DeadLetterReason
from trouper.runtime.lowlevel import (
    Ask,
    Cell,
    Mailbox,
    MemoryMailbox,
    ReplyCallback,
    SendKind,
    SharingEndpoint,
    WithMsgId,
    current_cell,
    message_of,
    release_frames_unless_failing,
    stage_if_in_transaction,
)

__all__ = ["PoolEndpoint", "endpoint_for"]

_SYSTEM = (Terminated, Exited)
_GONE = frozenset({ActorState.STOPPING, ActorState.STOPPED})


class PoolEndpoint(SharingEndpoint):
    """A pool's endpoint (base): control messages to the pool, the rest to members.

    Subclasses implement ``send``, ``send_nowait`` and ``ask`` for one router.
    ``cell`` is the pool actor's cell (so ``cell_of(pool_ref)`` is the pool),
    set by ``attach`` when the pool actor is first built.
    """

    __slots__ = ("actor_class", "cell", "closed", "members", "ref", "shared", "size")

    cell: Cell
    ref: ActorRef[object]

    def __init__(self, size: int) -> None:
        self.size = size
        """How many members the pool wants (its last ``Resize``, or the initial size)."""
        self.members: tuple[Cell, ...] = ()
        """The members' cells in member order (``member-1`` first); replaced on change."""
        self.shared: Mailbox | None = None
        """The mailbox every member shares (balancing pools only)."""
        self.actor_class: type[Actor] | None = None
        """The members' class, once one has started."""
        self.closed = False
        """Whether the pool has stopped for good."""

    def attach(self, cell: Cell) -> PoolEndpoint:
        """Become the endpoint of the pool actor's cell (``spawn_cell(endpoint=...)``).

        The cell's ref then routes: it is what ``lookup(name)``, a member's
        ``ctx.parent``, ``Terminated`` and the tree hand out.
        """
        self.cell = cell
        self.ref = ActorRef(cell.address, self)
        return self

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Tell: route ``message`` (``ActorRef.tell``); whether it reached a mailbox."""
        raise NotImplementedError

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Tell now: route ``message`` or raise ``MailboxFull`` (``ActorRef.tell_nowait``)."""
        raise NotImplementedError

    async def ask(self, message: object) -> object:
        """Ask: route ``message`` and wait for the reply (``ActorRef.ask``)."""
        raise NotImplementedError

    def ask_soon(self, message: object, on_reply: ReplyCallback) -> Ask:
        """Route an ask whose reply goes to ``on_reply`` (``Cell.ask_soon``; no task).

        Raises:
            CallbackAskUnsupported: this router cannot answer by callback (use ``ask``).
        """
        if type(message) in CONTROL:
            return self.cell.ask_soon(message, on_reply)
        raise CallbackAskUnsupported(f"{type(self).__name__} does not take callback asks; use ask")

    def watch(self, watcher: Watcher) -> None:
        """Watching a pool watches the pool actor (it stops when the pool does)."""
        self.cell.watch(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        """Stop watching the pool actor."""
        self.cell.unwatch(watcher)

    def set_members(self, members: Sequence[Cell]) -> None:
        """Route to ``members`` from now on (called by the pool actor only)."""
        self.members = tuple(members)

    def retire(self, member: Cell) -> None:
        """Deal with the mail of a member just taken out of ``members`` (before it stops).

        By default nothing: the member's queue becomes dead letters when it stops.
        """

    def close(self) -> None:
        """The pool has stopped for good: route nothing any more."""
        self.closed = True
        self.members = ()

    def reopen(self) -> None:
        """The stopped pool is started again from its spec (same cell, same ref): route again."""
        self.closed = False
        if self.shared is not None and self.shared.closed:
            self.shared.reopen()

    # --- the pool itself, and a pool with no one to route to ------------------

    def _why(self) -> DeadLetterReason:
        return DeadLetterReason.ACTOR_STOPPED if self.closed else DeadLetterReason.NO_MEMBERS

    # No member's cell checks the caller's thread on these paths: they check it
    # before they post anything, as a stopped actor's cell does.

    async def _dead_send(self, message: object) -> bool:
        self.cell.runtime.check_thread("tell")
        await checkpoint_if_cancelled()
        self.cell.dead_letter(message, self._why())
        await cancel_shielded_checkpoint()
        return False

    async def _dead_ask(self, message: object) -> object:
        self.cell.runtime.check_thread("ask")
        await checkpoint_if_cancelled()
        self.cell.dead_letter(message, self._why())
        # Refused at once: still a schedule point (as ``Cell.ask``'s refusal is),
        # or a loop retrying it would never let others run.
        await cancel_shielded_checkpoint()
        raise ActorStopped(self.cell.address)

    def _dead_send_nowait(self, message: object) -> bool:
        self.cell.runtime.check_thread("tell_nowait")
        self.cell.dead_letter(message, self._why())
        return False


def _drain(mailbox: Mailbox) -> list[object]:
    """Take every queued item, then the messages of senders parked on it, in order."""
    taken: list[object] = []
    items = mailbox.items
    while True:
        taken.extend(items)
        items.clear()
        if not mailbox.producers:
            return taken
        # Senders parked on the full mailbox get their message in (and
        # return normally), so that it goes with the rest. They may be
        # parked on an empty queue too: its member took the last item and
        # is busy, or a hash pool's growth moved the queue away.
        mailbox.admit()
        if not items:
            return taken  # nobody let in: a mailbox whose room comes from elsewhere


def _take_all(mailbox: Mailbox) -> list[object]:
    """Empty a member's mailbox for good, admitting parked senders' messages first."""
    taken = _drain(mailbox)
    mailbox.close()
    return taken


class _Rerouting(PoolEndpoint):
    """A pool whose members have their own mailboxes: each message goes to the one
    member ``_member`` picks, and a removed member's queue is routed again."""

    __slots__ = ()

    def _member(self, message: object) -> Cell:
        raise NotImplementedError

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Tell the member the router picks (``ActorRef.tell``)."""
        if type(message) in CONTROL:
            return await self.cell.send(message)
        if self.members:
            try:
                member = self._member(message)
            except Exception:
                await checkpoint()  # refused at once (a hash key failed): still a checkpoint
                raise
            return await member.send(message, msg_id)
        return await self._dead_send(message)

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Tell the router's member now, or raise ``MailboxFull`` (``ActorRef.tell_nowait``)."""
        if type(message) in CONTROL:
            return self.cell.send_nowait(message)
        if self.members:
            return self._member(message).send_nowait(message, msg_id)
        return self._dead_send_nowait(message)

    def _member_to_ask(self, message: object) -> Cell:
        """The member an ``ask`` of ``message`` goes to (by default, as a tell's)."""
        return self._member(message)

    async def ask(self, message: object) -> object:
        """Ask the member the router picks (``ActorRef.ask``)."""
        if type(message) in CONTROL:
            return await self.cell.ask(message)
        if self.members:
            try:
                member = self._member_to_ask(message)
            except Exception:
                await checkpoint()  # refused at once (a hash key failed): still a checkpoint
                raise
            return await member.ask(message)
        return await self._dead_ask(message)

    def ask_soon(self, message: object, on_reply: ReplyCallback) -> Ask:
        """Route a callback ask to the member the router picks (``Cell.ask_soon``)."""
        if type(message) in CONTROL:
            return self.cell.ask_soon(message, on_reply)
        if not self.members:
            self.cell.runtime.check_thread("ask")
            self.cell.dead_letter(message, self._why())
            raise ActorStopped(self.cell.address)
        return self._member(message).ask_soon(message, on_reply)

    def retire(self, member: Cell) -> None:
        """Route the removed member's queued messages (asks too) to the remaining members.

        Messages are appended to their new member's mailbox even when it is
        full (a one-time transfer, at most one mailbox's worth plus parked
        senders). Watch and link notices addressed to the removed member are
        its own: they become dead letters, as does a message whose routing
        raises (with the error).
        """
        for item in _take_all(member.mailbox):
            self._reroute(member, item)
        # A routing error's traceback keeps this frame alive after it returns (as
        # the f_back of the frames it went through): it must not keep a message.
        item = None

    def _reroute(self, member: Cell, item: object) -> None:
        if type(item) is Ask and item.abandoned:
            return
        message = message_of(item)
        if not self.members or type(message) in _SYSTEM:
            member.dead_letter(item, DeadLetterReason.ACTOR_STOPPED)
            return
        target = self._member_or_error(message)
        if not isinstance(target, Cell):
            member.dead_letter(item, DeadLetterReason.ROUTING_FAILED, target)
            # The frames the error went through have all finished: their locals
            # go (what the router built, the endpoint), as the engine lets a
            # reported failure's go; the traceback stays.
            release_frames_unless_failing(member.runtime, target)
        elif self._follows(item, member, target):
            _put_system(target, item)

    def _follows(self, item: object, source: Cell, target: Cell) -> bool:
        """Move what an ask's asker waits on from ``source`` to ``target``; whether it may go.

        A handler waiting on an ask that moves to another member waits on that
        member now: its ``asking`` follows the ask, so that an ask back to it
        through the new member is found a cycle (``AskCycle``), not a hang. If
        the new member already waits on the asker, the ask fails at once
        with ``AskCycle`` (``False``: it is not put anywhere).
        """
        if type(item) is not Ask or item.abandoned:
            return True
        asker = item.asker
        if asker is None or asker.asking is not source:
            return True
        chain = _chain_to(target, asker)
        if chain is not None:
            item.settle(outcome.Error(_cycle(asker, self.cell, chain)))
            return False
        asker.asking = target
        return True

    def _member_or_error(self, message: object) -> Cell | Exception:
        """The member the router picks for ``message``, or the error it raised.

        Caught here, so that every frame of the error's traceback has finished
        by the time it is reported (and its locals can be let go).
        """
        try:
            return self._member(message)
        except Exception as error:
            return error


class RoundRobinEndpoint(_Rerouting):
    """Each message to the next member in turn."""

    __slots__ = ("_turn",)

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._turn = 0

    def set_members(self, members: Sequence[Cell]) -> None:
        """Route to ``members``; the member whose turn is next keeps it.

        If that member has left, the turn goes to the first one after it (in the
        old order) that stays: members leaving never make one lose its turn.
        """
        before = self.members
        super().set_members(members)
        if not before or not self.members:
            self._turn = 0
            return
        start = self._turn % len(before)
        positions = {cell: index for index, cell in enumerate(self.members)}
        for step in range(len(before)):
            index = positions.get(before[(start + step) % len(before)])
            if index is not None:
                self._turn = index
                return
        self._turn = 0  # every member changed: start from the first

    def _member(self, message: object) -> Cell:
        members = self.members
        turn = self._turn
        self._turn = turn + 1 if turn < len(members) - 1 else 0
        member = members[turn % len(members)]
        if member.mailbox.closed:
            # It stopped for good and the pool has not handled its Terminated
            # yet (it may be busy starting a member): the next one still open.
            for _ in range(len(members) - 1):
                turn = self._turn
                self._turn = turn + 1 if turn < len(members) - 1 else 0
                candidate = members[turn % len(members)]
                if not candidate.mailbox.closed:
                    return candidate
        return member

    def _member_to_ask(self, message: object) -> Cell:
        """The member in turn, passing over those that could not answer the asking handler.

        A member's handler asking its own pool waits on the reply: the turn may
        fall on it, or on a member that waits (along a chain of asks) on it,
        neither of which can take the ask before that reply. The next member
        in turn that can is asked instead; if none can, the one in turn is
        (and ``Cell.ask`` refuses it: ``AskCycle``).
        """
        member = self._member(message)
        asker = _asking_handler()
        if asker is None or _chain_to(member, asker) is None:
            return member
        for _ in range(len(self.members) - 1):
            candidate = self._member(message)
            if _chain_to(candidate, asker) is None and not candidate.mailbox.closed:
                return candidate
        return member


class ConsistentHashEndpoint(_Rerouting):
    """Each message to the member that owns its key on the ring."""

    __slots__ = (
        "_key",
        "_on_ring",
        "_owners",
        "_placements",
        "_points",
        "_ring",
        "_stale",
        "_virtual_nodes",
    )

    def __init__(self, size: int, key: Callable[[object], object], virtual_nodes: int) -> None:
        super().__init__(size)
        self._key = key
        self._virtual_nodes = virtual_nodes
        self._points: tuple[int, ...] = ()
        # The ring's positions, ascending (``HashRing.points`` over the members' ids).
        self._owners: tuple[Cell, ...] = ()
        # The member owning each point of ``_points``.
        self._ring: list[tuple[int, str]] = []
        # (point, member id) of every point of ``_points``, sorted as ``HashRing.build``
        # sorts them: an update drops the points of those who left, merges in the joiners'.
        self._on_ring: frozenset[str] = frozenset()
        # The member ids whose points ``_ring`` holds.
        self._placements: dict[str, list[tuple[int, str]]] = {}
        # Each member id's points, sorted, hashed once per pool (ids come back after a shrink).
        self._stale = False
        # The members changed since the ring was last brought up to date.

    def set_members(self, members: Sequence[Cell]) -> None:
        """Route to ``members``; the ring over their ids is brought up to date when next used.

        The ring is the one ``HashRing.build`` makes over the ids, updated when
        a message is next routed rather than at every change, and merged rather
        than rebuilt: each member's points are hashed once. (A rebuild per join
        cost a starting pool of n members n * n * ``virtual_nodes`` key hashes,
        all in one Trio step: 8 s for 200 members.)

        When members join, the keys the ring now gives them move: the
        messages of those keys still queued at their old member move to the
        new owner, in order, before anything else is routed there, so each
        key's messages keep their order (as a removed member's queue is
        routed again when the pool shrinks).
        """
        before = self.members
        super().set_members(members)
        self._stale = True
        if not before:
            return
        earlier = set(before)
        if any(member not in earlier for member in self.members):
            staying = set(self.members)
            for member in before:
                if member in staying:
                    self._move_keys(member)

    def _update_ring(self) -> None:
        """Bring the ring up to date with the members (a message is about to be routed)."""
        self._stale = False
        by_id = {member.child_id: member for member in self.members}
        ring = self._ring
        if not self._on_ring <= by_id.keys():
            ring = [point for point in ring if point[1] in by_id]
        joined = [child_id for child_id in by_id if child_id not in self._on_ring]
        if joined:
            ring = ring + [point for child_id in joined for point in self._placed(child_id)]
            ring.sort()  # (sorted runs: merged, not sorted from scratch)
        self._ring = ring
        self._on_ring = frozenset(by_id)
        self._points = tuple(map(itemgetter(0), ring))
        # (a member that left and came back under its id is another cell: mapped again)
        self._owners = tuple(map(by_id.__getitem__, map(itemgetter(1), ring)))

    def _placed(self, child_id: str) -> list[tuple[int, str]]:
        """The ring points of member ``child_id``, sorted, as ``HashRing.build`` places them."""
        placed = self._placements.get(child_id)
        if placed is None:
            own = HashRing.build([child_id], self._virtual_nodes)
            placed = self._placements[child_id] = list(zip(own.points, own.owners, strict=True))
        return placed

    def _move_keys(self, member: Cell) -> None:
        """Move the queued messages whose key no longer belongs to ``member`` (in order).

        Senders parked on its full mailbox are let in first (their messages
        come after the queued ones), so that a parked message of a moved key
        follows the key rather than stay behind on its old member.
        """
        mailbox = member.mailbox
        items = mailbox.items
        if mailbox.producers:
            items.extend(_drain(mailbox))
        keep: list[object] = []
        moves: list[tuple[Cell, object]] = []
        for item in items:
            message = message_of(item)
            if type(message) in _SYSTEM or type(message) in CONTROL:
                keep.append(item)
                continue
            try:
                owner = self._member(message)
            except Exception:
                keep.append(item)  # a key that fails stays where it was routed
                continue
            if owner is member:
                keep.append(item)
            else:
                moves.append((owner, item))
        if not moves:
            return
        items.clear()
        items.extend(keep)
        for owner, item in moves:
            if self._follows(item, member, owner):
                _put_system(owner, item)

    def _member(self, message: object) -> Cell:
        if self._stale:
            self._update_ring()
        points = self._points
        i = bisect_left(points, key_hash(self._key(message)))
        if i == len(points):
            i = 0
        owners = self._owners
        owner = owners[i]
        if owner.mailbox.closed:
            # It stopped for good and the pool has not handled its Terminated
            # yet: the key goes where the ring without it (and without any
            # other closed member) puts it, the first open owner after it.
            for step in range(1, len(points)):
                candidate = owners[(i + step) % len(points)]
                if not candidate.mailbox.closed:
                    return candidate
        return owner


class BroadcastEndpoint(PoolEndpoint):
    """Every message to every member, in member order."""

    __slots__ = ()

    def splits_sends(self) -> bool:
        """Yes: a tell cut short has reached the members before the one it waited on."""
        return True

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Tell every member, one after the other (``ActorRef.tell``).

        Waits while a member's mailbox is full. If cancelled part way, the
        members before that point have the message and the others do not.
        Returns whether it reached at least one member's mailbox.
        """
        if type(message) in CONTROL:
            return await self.cell.send(message)
        members = _open_members(self.members)
        if not members:
            return await self._dead_send(message)
        reached = False
        for member in members:
            reached = await member.send(message, msg_id) or reached
        return reached

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Tell every member now, or none of them (``ActorRef.tell_nowait``).

        From a handler in a transaction it is staged for every member, as a
        cell's is, and delivered after the commit whatever the room.

        Raises:
            MailboxFull: a member's mailbox is full (the first such, in member order).
        """
        if type(message) in CONTROL:
            return self.cell.send_nowait(message)
        members = _open_members(self.members)
        if not members:
            return self._dead_send_nowait(message)
        if self.cell.runtime.in_transaction and _stage_all(members, message, msg_id):
            return True  # delivered after the commit, whatever the room (as a cell's is)
        for member in members:
            mailbox = member.mailbox
            if mailbox.full and not mailbox.closed:
                raise MailboxFull(member.address, mailbox.size)
        reached = False
        for member in members:
            reached = member.send_nowait(message, msg_id) or reached
        return reached

    async def ask(self, message: object) -> object:
        """Ask every member at once; return their replies as a list, in member order.

        Waits for every member. If some failed (``HandlerError``,
        ``ActorStopped``, ...), raises the first failure in member order once
        all have answered. Cancelled, it abandons every member's ask.

        Raises:
            AskCycle: asked from a handler, and a member is that handler's actor
                or waits on it through a chain of asks; nothing was queued.
        """
        if type(message) in CONTROL:
            return await self.cell.ask(message)
        members = _open_members(self.members)
        if not members:
            return await self._dead_ask(message)
        asker = _asking_handler()
        if asker is not None:
            # The members are asked from tasks of their own, which the engine does
            # not check: the handler waits on every member, so a chain from any of
            # them back to it is a cycle.
            for member in members:
                chain = _chain_to(member, asker)
                if chain is not None:
                    await checkpoint()  # refused at once: still a checkpoint, as Cell.ask's is
                    raise _cycle(asker, self.cell, chain)
            # It waits on every member: an ask back to it through any of them
            # (not only the first) closes a cycle, which ``Cell.ask`` must see.
            asker.asking = members[0]
            asker.asking_also = members[1:]
        results: list[outcome.Outcome[object] | None] = [None] * len(members)
        try:
            async with trio.open_nursery() as nursery:
                for index, member in enumerate(members):
                    nursery.start_soon(_ask_one, member, message, results, index)
        finally:
            if asker is not None:
                asker.asking = None
                asker.asking_also = ()
        return [result.unwrap() for result in results if result is not None]


def _stage_all(members: tuple[Cell, ...], message: object, msg_id: str | None) -> bool:
    """Stage ``message`` to every member in the running handler's transaction, if it has one.

    Whether it did: staged sends need no room (each is delivered after the
    commit, as ``Cell.send_nowait``'s are), so a full member refuses nothing.
    """
    first, *others = members
    if not stage_if_in_transaction(
        first.mailbox, message, msg_id, partial(_put_system, first, message)
    ):
        return False
    for member in others:
        stage_if_in_transaction(
            member.mailbox, message, msg_id, partial(_put_system, member, message)
        )
    return True


def _put_system(member: Cell, item: object) -> None:
    """Put ``item`` in ``member``'s mailbox whatever the room; a dead letter if it is closed.

    For what must not wait: a staged message once its transaction committed,
    a message moved to another member when the members changed.
    """
    if member.mailbox.closed:
        member.dead_letter(item, DeadLetterReason.ACTOR_STOPPED)
    else:
        member.mailbox.put_system(item)


def _open_members(members: tuple[Cell, ...]) -> tuple[Cell, ...]:
    """The members still taking messages: one that stopped for good is skipped even
    before the pool has handled its ``Terminated`` (it may be busy starting a member)."""
    for member in members:
        if member.mailbox.closed:
            return tuple(m for m in members if not m.mailbox.closed)
    return members


async def _ask_one(
    member: Cell, message: object, results: list[outcome.Outcome[object] | None], index: int
) -> None:
    try:
        results[index] = outcome.Value(await member.ask(message))
    except Exception as error:
        results[index] = outcome.Error(error)


class BalancingEndpoint(PoolEndpoint):
    """Every message into the one mailbox the members share."""

    __slots__ = ()

    def __init__(self, size: int, mailbox: Mailbox) -> None:
        super().__init__(size)
        self.shared = mailbox

    def shared_mailbox(self) -> Mailbox | None:
        """The mailbox every member takes from, which the pool's tells go into."""
        return self.shared

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Put the message in the shared mailbox, waiting while it is full (``ActorRef.tell``).

        Staged like a cell's ``send`` when sent from a handler in a transaction.
        """
        if type(message) in CONTROL:
            return await self.cell.send(message)
        runtime = self.cell.runtime
        runtime.check_thread("tell")
        await checkpoint_if_cancelled()
        mailbox = self.shared
        assert mailbox is not None
        if stage_if_in_transaction(mailbox, message, msg_id, partial(self._release, message)):
            if runtime.quick_op_yields():  # staged: as ``Cell.send``'s staged send
                await cancel_shielded_checkpoint()
            return True
        if runtime.special_sends and runtime.instruments.watch_sends:
            return await self._send_watched(mailbox, message, msg_id)
        if mailbox.durable:
            message = message if msg_id is None else WithMsgId(message, msg_id)
            if await mailbox.put(message):
                return True
            self.cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
            return False
        if mailbox.put_nowait(message):
            await cancel_shielded_checkpoint()
            return True
        if mailbox.closed:
            self.cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
            await cancel_shielded_checkpoint()
            return False
        if await mailbox.put(message):
            return True
        self.cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
        return False

    async def _send_watched(self, mailbox: Mailbox, message: object, msg_id: str | None) -> bool:
        """``send`` while instruments watch sends: as ``Cell.send`` does, to the pool's cell."""
        cell = self.cell
        instruments = cell.runtime.instruments
        item = message if msg_id is None or not mailbox.durable else WithMsgId(message, msg_id)
        if instruments.intercept_send:
            fate = instruments.intercept(cell, message, SendKind.TELL)
            if fate is not None:
                return await cell.intercepted_send(fate, item, mailbox)
        if instruments.message_sent and not mailbox.durable:
            item = cell.carrying(message, SendKind.TELL)
        if not mailbox.durable and mailbox.put_nowait(item):
            # Reported before the checkpoint, which may let a member handle it.
            if instruments.message_delivered:
                instruments.delivered(cell, message)
            await cancel_shielded_checkpoint()
            return True
        if mailbox.closed:
            cell.dead_letter(item, DeadLetterReason.ACTOR_STOPPED)
            await cancel_shielded_checkpoint()
            return False
        if not await mailbox.put(item):
            cell.dead_letter(item, DeadLetterReason.ACTOR_STOPPED)
            return False
        if instruments.message_delivered:
            instruments.delivered(cell, message)
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Put the message in the shared mailbox now (``ActorRef.tell_nowait``).

        Raises:
            MailboxFull: the shared mailbox is full; the message was not sent.
        """
        if type(message) in CONTROL:
            return self.cell.send_nowait(message)
        runtime = self.cell.runtime
        runtime.check_thread("tell_nowait")
        mailbox = self.shared
        assert mailbox is not None
        if stage_if_in_transaction(mailbox, message, msg_id, partial(self._release, message)):
            return True
        if runtime.special_sends and runtime.instruments.watch_sends:
            return self._send_nowait_watched(mailbox, message, msg_id)
        if msg_id is not None and mailbox.durable:
            message = WithMsgId(message, msg_id)
        if mailbox.put_nowait(message):
            return True
        if mailbox.closed:
            self.cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
            return False
        raise MailboxFull(self.cell.address, mailbox.size)

    def _send_nowait_watched(self, mailbox: Mailbox, message: object, msg_id: str | None) -> bool:
        """``send_nowait`` while instruments watch sends: as ``Cell.send_nowait`` does."""
        cell = self.cell
        instruments = cell.runtime.instruments
        item = message if msg_id is None or not mailbox.durable else WithMsgId(message, msg_id)
        if mailbox.full and not mailbox.closed:
            # Refused before the hooks: they see only sends that happen (as a cell's).
            raise MailboxFull(cell.address, mailbox.size)
        if instruments.intercept_send:
            fate = instruments.intercept(cell, message, SendKind.TELL_NOWAIT)
            if fate is not None:
                return cell.intercepted_tell(fate, item, mailbox)
        if instruments.message_sent and not mailbox.durable:
            item = cell.carrying(message, SendKind.TELL_NOWAIT)
        if not mailbox.put_nowait(item):
            if mailbox.closed:
                cell.dead_letter(item, DeadLetterReason.ACTOR_STOPPED)
                return False
            raise MailboxFull(cell.address, mailbox.size)
        if instruments.message_delivered:
            instruments.delivered(cell, message)
        return True

    async def ask(self, message: object) -> object:
        """Put an ask in the shared mailbox; the member that takes it replies (``ActorRef.ask``).

        Raises:
            AskCycle: asked from a handler, and no member could ever take the
                ask (each is the asker or waits on it through a chain of
                asks); nothing was queued.
        """
        if type(message) in CONTROL:
            return await self.cell.ask(message)
        cell = self.cell
        runtime = cell.runtime
        runtime.check_thread("ask")
        await checkpoint_if_cancelled()
        mailbox = self.shared
        assert mailbox is not None
        asker = _asking_handler()
        try:
            envelope = self._open_ask(message, None)
            taker = None if asker is None else self._taker(asker)
        except (ActorStopped, UnhandledMessage, AskCycle):
            # Refused at once (before the send hooks: they see only sends that
            # happen, as Cell.ask's): still a schedule point, or a loop retrying
            # it would never let others run.
            await cancel_shielded_checkpoint()
            raise
        if asker is not None:
            # Set already while it waits for room (or a simulated delay), as
            # Cell.ask does: the member that alone can take the ask is what the
            # asker now waits on.
            asker.asking = taker
        try:
            instruments = runtime.instruments
            watched = runtime.special_sends and instruments.watch_sends
            if watched and instruments.intercept_send:
                fate = instruments.intercept(cell, message, SendKind.ASK)
                if fate is not None:
                    # Delayed, it may find the pool stopped: the put below says so.
                    await cell.intercepted_ask(fate, message, mailbox)
            if watched and instruments.message_sent:
                envelope.contexts = instruments.sent(cell, message, SendKind.ASK)
            if not mailbox.put_nowait(envelope) and not await mailbox.put(envelope):
                cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
                raise ActorStopped(cell.address)
            if watched and instruments.message_delivered:
                instruments.delivered(cell, message)
            return await envelope.wait()
        finally:
            if asker is not None:
                asker.asking = None

    def _taker(self, asker: Cell) -> Cell | None:
        """The one member that can take ``asker``'s ask, or ``None`` (several can, or none yet).

        A member can take it unless it is ``asker`` or its handler waits, along
        a chain of asks (``Cell.asking``), on ``asker``: such a member cannot
        take another message before ``asker``'s ask is answered. Nor can one
        whose stop for good has begun, though it stays in ``members`` until the
        pool handles its ``Terminated`` (the pool may be busy).

        Raises:
            AskCycle: no member can take it (every one waits on ``asker``).
        """
        taker: Cell | None = None
        cycle: list[Cell] | None = None
        for member in self.members:
            chain = _chain_to(member, asker)
            if chain is None:
                if member.state in _GONE:
                    continue  # takes nothing more from the shared mailbox
                if taker is not None:
                    return None  # a second one: the answer is known (the usual case, early)
                taker = member
            elif cycle is None:
                cycle = chain
        if taker is None and cycle is not None:
            raise _cycle(asker, self.cell, cycle)
        return taker

    def ask_soon(self, message: object, on_reply: ReplyCallback) -> Ask:
        """Put a callback ask in the shared mailbox (``Cell.ask_soon``); it never waits.

        Raises:
            MailboxFull: the shared mailbox is full; nothing was queued.
            ActorStopped: the pool has stopped.
            UnhandledMessage: the members take no such message.
        """
        if type(message) in CONTROL:
            return self.cell.ask_soon(message, on_reply)
        cell = self.cell
        runtime = cell.runtime
        runtime.check_thread("ask")
        mailbox = self.shared
        assert mailbox is not None
        envelope = self._open_ask(message, on_reply)
        instruments = runtime.instruments
        watched = runtime.special_sends and instruments.watch_sends
        if watched:
            if mailbox.full:
                # Refused before the hooks: they see only sends that happen (as a cell's).
                raise MailboxFull(cell.address, mailbox.size)
            if instruments.intercept_send:
                fate = instruments.intercept(cell, message, SendKind.ASK)
                if fate is not None and not cell.intercepted_callback_ask(fate, envelope, mailbox):
                    return envelope
            if instruments.message_sent:
                envelope.contexts = instruments.sent(cell, message, SendKind.ASK)
        if not mailbox.put_nowait(envelope):
            raise MailboxFull(cell.address, mailbox.size)
        if watched and instruments.message_delivered:
            instruments.delivered(cell, message)
        return envelope

    def _open_ask(self, message: object, on_reply: ReplyCallback | None) -> Ask:
        """Check that ``message`` can be asked of the members now; return its envelope."""
        mailbox = self.shared
        assert mailbox is not None
        address = self.cell.address
        if mailbox.closed:
            self.cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
            raise ActorStopped(address)
        actor_class = self.actor_class
        if actor_class is not None and not actor_class.handles(type(message)):
            self.cell.dead_letter(message, DeadLetterReason.UNHANDLED)
            raise UnhandledMessage(
                address, type_name(type(message)), actor_class.unmarked_hint(type(message))
            )
        return Ask(message, on_reply)

    def _release(self, message: object) -> None:
        """Deliver a staged message once its transaction committed (whatever the room)."""
        mailbox = self.shared
        assert mailbox is not None
        if mailbox.closed:
            self.cell.dead_letter(message, DeadLetterReason.ACTOR_STOPPED)
        else:
            mailbox.put_system(message)

    def close(self) -> None:
        """Close the shared mailbox: its messages become dead letters, its asks fail."""
        super().close()
        mailbox = self.shared
        assert mailbox is not None
        if mailbox.closed:
            return
        # Parked senders are woken and settle their own message (an in-memory
        # mailbox's report it as a dead letter; a durable one's store it for
        # the pool's next start): only the queued ones are ours to report.
        for item in mailbox.close():
            self.cell.dead_letter(item, DeadLetterReason.ACTOR_STOPPED)


def _asking_handler() -> Cell | None:
    """The actor whose handler runs in this task (``None`` in a timer's or any other task).

    Its mailbox is blocked while it waits on an ask: what ask cycles are made of.
    """
    asker = current_cell()
    if asker is not None and asker.task is not current_task():
        return None  # a timer: its wait blocks no mailbox
    return asker


def _cycle(asker: Cell, pool: Cell, chain: list[Cell]) -> AskCycle:
    """The ``AskCycle`` of ``asker`` asking ``pool``, whose member starts ``chain`` back to it."""
    paths = (asker.address.path, pool.address.path)
    return AskCycle(paths + tuple(cell.address.path for cell in chain))


def _chain_to(member: Cell, asker: Cell) -> list[Cell] | None:
    """The chain of asks from ``member`` to ``asker`` (both included), or ``None``."""
    if member.asking is None:  # the common case, without building a chain
        return [member] if member is asker else None
    return member.ask_chain_to(asker)


def endpoint_for(
    router: Router, size: int, mailbox_size: float, shared: Mailbox | None = None
) -> PoolEndpoint:
    """Build the endpoint that routes as ``router`` says, for a pool of ``size``.

    ``shared`` is a balancing pool's shared mailbox when it is not in memory
    (a durable one, opened under the pool's name).
    """
    if isinstance(router, Balancing):
        return BalancingEndpoint(size, MemoryMailbox(mailbox_size) if shared is None else shared)
    if isinstance(router, ConsistentHash):
        return ConsistentHashEndpoint(size, router.key, router.virtual_nodes)
    if isinstance(router, Broadcast):
        return BroadcastEndpoint(size)
    if isinstance(router, RoundRobin):
        return RoundRobinEndpoint(size)
    raise ValueError(
        "router must be RoundRobin(), Balancing(), ConsistentHash(key) or Broadcast(), "
        f"got {router!r}"
    )
