"""Durable actors: ``Durable()`` mailboxes opened on a runtime's store, and durable state.

Theory of operation
-------------------
``Durable(...).open_mailbox(runtime, name, size)`` (the engine calls it when
an actor is spawned with ``mailbox=Durable()``) returns an ``ActorMailbox``:
the ``DurableQueue`` core, kept in ``runtime.store`` under the actor's chosen
name, plus what an actor needs on top of it:

- Serving: the first instance's ``prepare`` (before its ``on_start``) starts
  the queue's serving task in the root's nursery, so the mailbox is loaded
  (suspects of an unclean stop first) before the actor handles anything;
  the runtime cancels that task after its last actor stopped, and closes
  the store after that.
- Durable state: an actor class that annotates ``state`` with an attrs class
  (``state: Ledger``) gets ``self.state`` loaded in ``prepare`` (before
  ``on_start``, also after every restart; a fresh ``Ledger()`` if none was
  saved), encoded after each handled message and saved in the ack's
  transaction when its bytes changed. Decoding a saved state follows the
  class's unknown-field policy as a message (``@trouper.message(...,
  ignore_unknown_fields=True)`` lets it lose a field between runs); a saved
  state that does not fit the class (a field renamed, or added with no
  default) fails the start with a ``TypeError`` saying so, and stays saved as
  it was. A failed or returned handler's changes are rolled back to the last
  saved state, so a redelivery replays against exactly what was committed.
  What ``on_start`` (or ``on_restart``) changed is saved with the next ack; a
  failure before that ack rolls back to the state as ``on_start`` left it (it
  does not run again unless the actor restarts, which loads the saved state).
  So does what the handler of a notice (a ``Terminated``, which is not stored)
  changed; if that handler fails (its actor resumed), its changes are rolled
  back to the state as it found it.
  A state that cannot be encoded (or a ``self.state`` replaced by another
  type) fails the handler, as if it had raised: nothing of it commits, the
  state is rolled back, the message counts a failure (backoff,
  ``max_deliveries``), a waiting ask gets ``HandlerError`` (not the handler's
  result), and the actor's supervisor is told (the ack raises to the cell,
  which settles the delivery as failed), on SQLite and JetStream alike.
- Dead letters: each move to the dead-letter queue is also posted to the
  runtime's dead-letter office once it has committed (so it is published on
  ``trouper.system.dead_letters``).
- A failed store fails the runtime: nothing more can be acknowledged.

One ``_Layer`` per runtime (``runtime.extension("durable")``) holds the codec
(``trouper.codec.Codec`` with a resolver that finds local actors by their
address, see ``_LateRef``) and the open mailboxes by name.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import typing
import weakref
from typing import TYPE_CHECKING, Any

import attrs
import outcome
import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trouper._text import describe
from trouper._validate import check_name
from trouper.actors import Actor, ActorRef, Address
from trouper.codec import Codec, MessageRegistry
from trouper.durable._queue import Delivery, Durable, DurableQueue, _describe, _refusal
from trouper.durable._served import ServedQueue
from trouper.durable._store import WriteBatch
from trouper.errors import ActorStopped, HandlerError, MessageMismatch
from trouper.runtime import DeadLetter, DeadLetterReason, Runtime
from trouper.runtime.lowlevel import (
    Ask,
    Cell,
    Guardian,
    Mailbox,
    MailboxEnding,
    SharingEndpoint,
    register_extension,
    stage_if_in_transaction,
)

if TYPE_CHECKING:
    from trouper.actors import Watcher

__all__ = ["ActorMailbox", "ServedActorMailbox", "durable_ref", "open_actor_mailbox", "state_class"]

log = logging.getLogger("trouper")

_STATE_NAME = "trouper.state"

# Actor class -> its durable state class (or None), found once per class.
_state_classes: weakref.WeakKeyDictionary[type, type | None] = weakref.WeakKeyDictionary()


def state_class(actor_class: type) -> type | None:
    """The attrs class an actor class declares as its durable state (``state: Ledger``), or None.

    Raises:
        TypeError: ``state`` is annotated with something that is not an attrs
            class, or its annotation cannot be resolved.
    """
    try:
        return _state_classes[actor_class]
    except KeyError:
        pass
    found: type | None = None
    for klass in actor_class.__mro__:
        if "state" not in inspect.get_annotations(klass):
            continue
        hint: object = inspect.get_annotations(klass)["state"]
        try:
            if isinstance(hint, str):  # postponed (``from __future__ import annotations``)
                module = sys.modules.get(klass.__module__)
                hint = eval(hint, vars(module) if module else {}, dict(vars(klass)))
        except Exception as error:
            raise TypeError(
                f"{klass.__qualname__}.state: its annotation cannot be resolved "
                f"({type(error).__name__}: {error}); define the state class at module level"
            ) from error
        if hint is typing.ClassVar or typing.get_origin(hint) is typing.ClassVar:
            break  # a class attribute named state, not durable state
        if not (isinstance(hint, type) and attrs.has(hint)):
            raise TypeError(
                f"{klass.__qualname__}.state must be annotated with an attrs class "
                f"(durable state), got {hint!r}"
            )
        found = hint
        break
    _state_classes[actor_class] = found
    return found


class _LateEndpoint:
    """A ref read from the store: it finds the actor at its address on each use.

    Stored messages outlive the actors they mention, and are read back before
    those actors may have started again; the ref is resolved when used, and
    sending to an address where no actor lives is a dead letter.
    """

    __slots__ = ("address", "runtime")

    def __init__(self, runtime: Runtime, address: Address) -> None:
        # The runtime to look the address up in.
        self.runtime = runtime
        # The address read from the store.
        self.address = address

    def _target(self) -> ActorRef[object] | None:
        cell = _find(self.runtime, self.address)
        return None if cell is None else cell.ref

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Send to the actor living at the address now, or post a dead letter."""
        target = self._target()
        if target is None:
            await checkpoint_if_cancelled()
            self._dead(message)
            await cancel_shielded_checkpoint()
            return False
        return await target.endpoint.send(message, msg_id)

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Send now to the actor living at the address, or post a dead letter."""
        target = self._target()
        if target is None:
            self._dead(message)
            return False
        return target.endpoint.send_nowait(message, msg_id)

    async def ask(self, message: object) -> object:
        """Ask the actor living at the address now.

        Raises:
            ActorStopped: no actor lives there.
        """
        target = self._target()
        if target is None:
            await checkpoint_if_cancelled()
            self._dead(message)
            raise ActorStopped(self.address)
        return await target.endpoint.ask(message)

    def watch(self, watcher: Watcher) -> None:
        """Watch the actor living at the address (told at once if none does)."""
        target = self._target()
        if target is None:
            watcher.terminated(ActorRef(self.address, self), None)
        else:
            target.endpoint.watch(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        """Stop watching the actor living at the address."""
        target = self._target()
        if target is not None:
            target.endpoint.unwatch(watcher)

    def _dead(self, message: object) -> None:
        self.runtime.dead_letters.post(
            DeadLetter(message, self.address, DeadLetterReason.ACTOR_STOPPED)
        )


def _find(runtime: Runtime, address: Address) -> Cell | None:
    """The living cell at ``address`` in ``runtime``, walking the tree from the root."""
    if address.node != runtime.node:
        return None
    guardian: Guardian | None = runtime.root
    cell: Cell | None = None
    for segment in address.path.strip("/").split("/"):
        if guardian is None:
            return None
        cell = guardian.find(segment)
        if cell is None:
            return None
        guardian = cell.children_guardian
    if cell is None or cell.stopped:
        return None
    return cell


class _StateRegistry(MessageRegistry):
    """A state class's own registry, whose field policies are the messages' registry's too.

    The state class is its only registration (named as state). A class in its
    fields (a list of ``Line``, say) registered as a message with
    ``ignore_unknown_fields=True`` drops a field it lost in state as it does
    in a message: the codec asks this registry about every class it decodes.
    """

    __slots__ = ("_messages",)

    def __init__(self, messages: MessageRegistry) -> None:
        super().__init__()
        # The runtime codec's registry, where message classes say their field policy.
        self._messages = messages

    def ignores_unknown_fields(self, cls: type) -> bool:
        """Whether payloads of ``cls`` may carry fields it does not have, here or as a message."""
        return super().ignores_unknown_fields(cls) or self._messages.ignores_unknown_fields(cls)


class _Layer:
    """The durable layer of one runtime: its codec, its state codecs, its open mailboxes."""

    __slots__ = ("__weakref__", "codec", "mailboxes", "runtime", "state_codecs")

    def __init__(self, runtime: Runtime) -> None:
        # The runtime whose store the mailboxes use.
        self.runtime = runtime
        # Messages to bytes and back; refs read back resolve in this runtime.
        self.codec = Codec(resolver=self.resolve)
        # The mailbox opened last under each name (a closed one is replaced).
        self.mailboxes: dict[str, ActorMailbox] = {}
        # State class -> the codec of its values (a registry of its own each).
        self.state_codecs: dict[type, Codec] = {}
        self._bind_store_codec()

    def _bind_store_codec(self) -> None:
        """Let the store's dead-letter listing read refs back as refs of this runtime.

        A store decodes the messages of the dead letters it lists with its own
        ``codec``, made without a runtime (``Codec()``), which cannot turn the
        address of a ref back into a ref: a dead letter carrying one (a
        reply-to ref) was listed with ``message`` None. The store serves one
        runtime, this one, so its trouper ``Codec`` without a resolver is
        replaced by one on the same registry that resolves here (as the
        mailboxes' codec does). A codec the user gave with a resolver of its
        own, or a codec of another kind, is left as it is.
        """
        try:
            store: object = self.runtime.store
        except RuntimeError:
            return  # no store: nothing lists dead letters
        codec = getattr(store, "codec", None)
        if type(codec) is Codec and codec.resolver is None:
            store.codec = Codec(codec.registry, resolver=self.resolve)  # type: ignore[attr-defined]

    def resolve(self, address: Address) -> ActorRef[object]:
        """The ref an address read from the store stands for.

        Raises:
            LookupError: the address is on another node.
        """
        if address.node != self.runtime.node:
            raise LookupError(f"it is on node {address.node!r}, not this runtime's")
        return ActorRef(address, _LateEndpoint(self.runtime, address))

    def state_codec(self, cls: type) -> Codec:
        """The codec of ``cls`` values as durable state."""
        codec = self.state_codecs.get(cls)
        if codec is None:
            # Its own registry, where it is named as state; the unknown-field policy is
            # the one it (or a class in its fields) was registered with as a message, if
            # it was (docs/messages.md), so that a state class can lose a field between
            # runs as a message can.
            registry = _StateRegistry(self.codec.registry)
            lenient = self.codec.registry.ignores_unknown_fields(cls)
            registry.register(cls, _STATE_NAME, ignore_unknown_fields=lenient)
            codec = self.state_codecs[cls] = Codec(registry, resolver=self.resolve)
        return codec


register_extension("durable", _Layer)


def open_actor_mailbox(options: Durable, runtime: object, name: str | None) -> ActorMailbox:
    """Open the durable mailbox called ``name`` on ``runtime``'s store (``Durable.open_mailbox``).

    Raises:
        ValueError: ``name`` is None, or a living actor consumes that mailbox.
        RuntimeError: the runtime has no store.
    """
    if not isinstance(runtime, Runtime):
        raise TypeError(f"a durable mailbox needs a trouper Runtime, got {runtime!r}")
    if name is None:
        raise ValueError(
            "a durable mailbox needs a chosen name: spawn the actor with name=... "
            "(the name is its mailbox's identity in the store; an automatic one changes "
            "from one run to the next)"
        )
    store = runtime.store
    layer = typing.cast(_Layer, runtime.extension("durable"))
    existing = layer.mailboxes.get(name)
    if existing is not None:
        if not existing.closed:
            raise ValueError(f"the durable mailbox {name!r} is already in use by a living actor")
        existing.retire()
    kind = ServedActorMailbox if store.redelivers else ActorMailbox
    mailbox = kind(layer, name, options)
    if existing is not None:
        mailbox.replacing(existing)
    layer.mailboxes[name] = mailbox
    store.attach(name, mailbox)
    return mailbox


class ActorMailbox(DurableQueue):
    """A durable actor's mailbox: the queue, served by the runtime, with the actor's state."""

    def __init__(self, layer: _Layer, name: str, options: Durable) -> None:
        runtime = layer.runtime
        super().__init__(
            runtime.store,
            name,
            layer.codec,
            options,
            random=runtime.random,
            on_dead_letter=self._posted,
            on_failure=self._store_failed,
            on_refused=self._not_stored,
        )
        # The runtime's durable layer.
        self._layer = layer
        # The cells consuming it: one, or a balancing pool's members.
        self._cells: list[Cell] = []
        # The cell that stands for it (what a ``durable_ref`` delivers through, asks and
        # watches): the actor's own, or the balancing pool's (never one of its members,
        # which a resize stops while the pool and its mailbox go on).
        self._host: Cell | None = None
        # Set once the serving task has started (None before anyone started it).
        self._serving: trio.Event | None = None
        # Whether a balancing pool's members share it (durable state is refused).
        self._shared = False
        # Where its dead letters are addressed: the actor, or the pool.
        self._recipient: Address | None = None
        # The actor's state class and its codec, once an instance declared one.
        self._state_type: type | None = None
        self._state_codec: Codec | None = None
        # Why the last handled message's state could not be encoded (None if it could):
        # ``_roll_back`` answers its ask with it, as the message was not acknowledged
        # (the cell answers too once the failure is settled, on either store; the
        # first answer wins).
        self._unsaved: BaseException | None = None
        # Whether the instance's state has not been looked at since ``prepare`` loaded it
        # (its ``on_start`` may have changed it) or since a message that is no stored
        # delivery (a ``Terminated``) was opened (its handler may change it): the next
        # delivery opened looks.
        self._fresh = False
        # The state as ``on_start`` (or the handler of such a message) left it, if that
        # differs from the saved one and no ack has saved it yet: what a failure before
        # that ack rolls back to.
        self._started: bytes | None = None
        # Whether the instance's state is to be set back before the next delivery opens:
        # a run's state was refused by the store after that run ended, and no newer one
        # is on its way (``ServedActorMailbox``), so what the instance holds was never
        # stored. It goes back to ``_reload_to`` (the state as ``on_start`` left it, if
        # that refused run was to save it) or else to the saved state (``_state``).
        self._reload = False
        self._reload_to: bytes | None = None

    def _holds_refused_run(self) -> bool:
        """Whether the instance's state is to be set back before the next delivery opens."""
        return self._reload

    def attach(self, cell: Cell) -> None:
        """Meet a consuming cell: the actor's, or one of a balancing pool's members."""
        self._cells = [*(c for c in self._cells if not c.stopped), cell]
        if cell.owns_mailbox:
            self.address = self._recipient = cell.address
            self._host = cell
        else:
            # A pool member: the pool's endpoint fails waiting asks when it closes
            # the mailbox; dead letters are addressed to the pool.
            self._shared = True
            owner = cell.parent.owner
            self._host = cell if owner is None else owner
            self._recipient = self._host.address

    async def prepare(self, instance: Actor) -> None:
        """Start serving (first instance), then load the actor's state into ``instance.state``.

        Raises:
            TypeError: the state class is not usable, the saved state does not fit
                it (its fields changed), or the mailbox is shared.
            StoreFailed: the store failed.
        """
        if self._serving is None:
            self._serving = trio.Event()
            await self._layer.runtime.root.nursery.start(self.serve)
            self._serving.set()
        else:
            await self._serving.wait()
        cls = state_class(type(instance))
        if cls is None:
            return
        if self._shared:
            raise TypeError(
                f"{type(instance).__qualname__} declares durable state, but the members of a "
                "pool share one mailbox: durable state needs an actor of its own"
            )
        self._state_type = cls
        self._state_codec = self._layer.state_codec(cls)
        self._stateful = True
        self._fresh, self._started = True, None
        self._reload, self._reload_to = False, None  # loaded afresh below
        data = await self.load_state()
        instance.state = self._decode_state(cls, data)  # type: ignore[attr-defined]

    def _decode_state(self, cls: type, data: bytes | None) -> Any:
        if data is None:
            try:
                return cls()
            except TypeError as error:
                raise TypeError(
                    f"no state was saved for {self.name!r} and {cls.__qualname__}() cannot be "
                    f"made with no arguments ({error}): give its fields defaults"
                ) from error
        assert self._state_codec is not None
        try:
            return self._state_codec.decode(_STATE_NAME, data)
        except MessageMismatch as error:
            raise TypeError(
                f"the state saved for {self.name!r} does not fit {cls.__qualname__} now "
                f"({error}): give a new field a default, and register a class that lost a "
                "field with @trouper.message(name, ignore_unknown_fields=True)"
            ) from error

    def open_item(self, item: object) -> tuple[object, Ask | None, object]:
        """The message of ``item``, its waiting ask, and its delivery (``ctx.delivery``)."""
        # ``DurableQueue.open_item`` inline (once per message), plus, at the first
        # delivery after ``on_start`` or after a message that is no stored delivery,
        # a look at what that changed in the state: change both together.
        if type(item) is Delivery:
            if self._fresh:
                self._note_started()
            return item.message, item.companion, item
        if self._state_codec is not None:
            # What changed before it (``on_start``, an earlier notice) is kept: this
            # handler failing rolls back to it (``_settle_notice``), not further.
            if self._fresh:
                self._note_started()
            # Its handler's changes are saved with the next ack; no failure of
            # a delivery after it is to roll them back.
            self._fresh = True
        return item, None, None

    def _settle_notice(self, ending: MailboxEnding) -> None:
        """Roll back what the failed handler of a notice (a ``Terminated``) changed in the state.

        A notice is not stored, so nothing of it is acked; but what its handler
        changed would be saved with the next ack, and a handler that failed
        (its actor resumed) must leave nothing: the state goes back to what it
        was when that handler began (``open_item`` noted it).
        """
        if ending is not MailboxEnding.FAILED or self._state_type is None:
            return
        instance = self._cells[0].instance if self._cells else None
        if instance is not None:
            data = self._state if self._started is None else self._started
            instance.state = self._decode_state(self._state_type, data)  # type: ignore[attr-defined]

    def _note_started(self) -> None:
        """Keep the state as ``on_start`` left it, if it changed what was saved.

        Those changes are saved with the next ack; a failure before then must
        roll back to them, not to the saved state (``on_start`` does not run
        again unless the actor restarts, which loads the saved state again).
        The same holds for what the handler of a message that is no stored
        delivery (a ``Terminated``, say: it comes once) changed.
        """
        self._fresh = False
        instance = self._cells[0].instance if self._cells else None
        if self._reload:
            data = self._state if self._reload_to is None else self._reload_to
            self._reload, self._reload_to = False, None
            if instance is not None and self._state_type is not None:
                instance.state = self._decode_state(self._state_type, data)  # type: ignore[attr-defined]
                self._started = None if data == self._state else data
                return
        state = getattr(instance, "state", None)
        if self._state_codec is None or type(state) is not self._state_type:
            return  # the ack refuses it, saying why
        try:
            data = self._state_codec.encode(state).payload
        except Exception:
            return  # the ack fails, saying why
        self._started = None if data == self._state else data

    def _state_data(self) -> bytes | None:
        cls = self._state_type
        if cls is None:
            return None
        instance = self._cells[0].instance
        if instance is None:
            return None
        state = getattr(instance, "state", None)
        try:
            if type(state) is not cls:
                raise TypeError(f"self.state must stay a {cls.__qualname__}, got {state!r}")
            assert self._state_codec is not None
            data = self._state_codec.encode(state).payload
        except Exception as error:
            self._unsaved = error
            raise
        self._started = None  # saved with this ack (or undone by the handler)
        return None if data == self._state else data

    def _roll_back(self, item: Delivery) -> None:
        cls = self._state_type
        if cls is None:
            return
        error, self._unsaved = self._unsaved, None
        if error is not None and item.companion is not None:
            # The handler returned, but its state cannot be saved, so nothing of it
            # commits and the message counts a failure: its asker must not be
            # answered with the result (the cell answers after settling; the first
            # answer wins).
            ask, item.companion = item.companion, None
            failure = HandlerError(self.address or self._cells[0].address, describe(error))
            failure.__cause__ = error
            ask.settle(outcome.Error(failure))
        instance = self._cells[0].instance
        if instance is not None:
            data = self._state if self._started is None else self._started
            instance.state = self._decode_state(cls, data)  # type: ignore[attr-defined]

    def _stopped_address(self) -> Address | None:
        # A pool's members do not own the mailbox: its asks were the pool's.
        return self.address if self.address is not None else self._recipient

    def _posted(self, delivery: Delivery, reason: str, error: BaseException | None) -> None:
        address = self._recipient
        assert address is not None
        self._layer.runtime.dead_letters.post(DeadLetter(delivery.message, address, reason, error))

    def _not_stored(self, message: object, error: BaseException) -> None:
        """Post ``message``, put here, as a dead letter: the store refused it alone."""
        address = self._recipient or Address(self._layer.runtime.node, f"/{self.name}")
        self._layer.runtime.dead_letters.post(_not_stored_letter(message, address, error))

    def _store_failed(self, error: BaseException) -> None:
        log.error("the durable store failed: %s; the runtime stops", error)
        self._layer.runtime.fail(error)


class ServedActorMailbox(ActorMailbox, ServedQueue):
    """A durable actor's mailbox on a store that redelivers itself (``JetStreamStore``).

    A handled message's new state is published before its ack and may be
    refused by the server after the handler ended (a state over its
    ``max_payload``): the message is then delivered again, and the state the
    instance holds was never stored. It is set back to the last state stored
    before the next delivery opens, so the rerun, and what comes after it,
    start from what the store holds (a state too large would otherwise be
    refused with every later message too).
    """

    def __init__(self, layer: _Layer, name: str, options: Durable) -> None:
        super().__init__(layer, name, options)
        # Each handled message whose ack stages a new state, by sequence, in staging order
        # (the order their outcomes come in), until its batch is stored (``_ack``) or
        # refused (``_commit_refused``): (that state, the state as ``on_start`` left it
        # if this ack was to save it, else None).
        self._staging: dict[int, tuple[bytes | None, bytes | None]] = {}
        # The last state known stored (``_state`` whenever nothing is being staged).
        self._stored: bytes | None = None

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        """Settle ``item`` (see ``ServedQueue.settle``), noting the state its ack stages."""
        if not self._stateful or ending is not MailboxEnding.HANDLED or type(item) is not Delivery:
            return super().settle(item, ending, error)
        before, started = self._state, self._started
        absorbed = super().settle(item, ending, error)
        if self._state is not before:
            if not self._staging:
                self._stored = before  # nothing was on its way: ``before`` is stored
            self._staging[item.id] = (self._state, started)
        return absorbed

    def _ack(self, sequence: int) -> None:
        if self._staging:
            entry = self._staging.pop(sequence, None)
            if entry is not None:
                self._stored = entry[0]
                if not self._staging:
                    # The newest state is stored, and the instance's descends from it.
                    self._reload, self._reload_to = False, None
        super()._ack(sequence)

    def _commit_refused(self, item: Delivery, error: BaseException) -> None:
        entry = self._staging.pop(item.id, None) if self._staging else None
        if entry is not None:
            started = entry[1]
            if self._staging:
                # A newer state, made from this one, is on its way: its outcome decides
                # (what ``on_start`` left goes with it).
                newer = next(iter(self._staging))
                data, its_started = self._staging[newer]
                if its_started is None and started is not None:
                    self._staging[newer] = (data, started)
            else:
                # Not stored: the next run starts again from the stored state.
                self._state = self._stored
                if started is not None:
                    self._reload_to = started
                self._reload = self._fresh = True
        super()._commit_refused(item, error)


class _MailboxEndpoint(SharingEndpoint):
    """Delivers to a durable mailbox by name, wherever (and whether) its actor runs.

    A tell appends to the mailbox in the store: through the living actor's
    cell if this runtime hosts it, else straight into the store (at least
    once; on a shared store, the processes that host the mailbox take it).
    Its tells go into no cell's mailbox of its own, so it says which one
    they go into (``shared_mailbox``), as a balancing pool's endpoint does:
    what looks at a ref's mailbox (a topic refusing what a durable mailbox
    cannot store, the asyncio bridge waiting for a durable tell's commit)
    then sees a durable one.
    """

    __slots__ = ("address", "layer", "name", "options", "sender")

    def __init__(self, layer: _Layer, name: str, options: Durable) -> None:
        # The runtime's durable layer (its codec, its open mailboxes).
        self.layer = layer
        # The mailbox's name in the store.
        self.name = name
        # The mailbox's options if no host made it yet (a host's own options win).
        self.options = options
        # The address a local actor of that name would have.
        self.address = Address(layer.runtime.node, f"/{name}")
        # A closed queue of that name: it only encodes and stages appends.
        store = layer.runtime.store
        kind: type[DurableQueue] = ServedQueue if store.redelivers else DurableQueue
        self.sender = kind(store, name, layer.codec, options)
        self.sender.closed = True

    def _local(self) -> ActorRef[object] | None:
        mailbox = self.layer.mailboxes.get(self.name)
        if mailbox is None or mailbox.closed:
            return None
        host = mailbox._host
        return None if host is None or host.stopped else host.ref

    def shared_mailbox(self) -> Mailbox | None:
        """The durable mailbox tells go into: the open one of this runtime's host, or ``sender``.

        ``sender`` is closed (it only stages appends): a tell to a mailbox
        nobody hosts here never waits for room.
        """
        hosted = self.layer.mailboxes.get(self.name)
        return self.sender if hosted is None or hosted.closed else hosted

    def _sending(self) -> DurableQueue:
        """``sender``, with the options the mailbox's host opened it with here, if one did.

        A host's options replace the ref's once it has opened the mailbox: a
        msg_id told while the actor is stopped is kept for the host's dedup
        window, not the ref's (the defaults' 120 s, say, against ``None``).
        """
        sender = self.sender
        hosted = self.layer.mailboxes.get(self.name)
        sender.options = self.options if hosted is None else hosted.options
        return sender

    def _batch(self, message: object, msg_id: str | None) -> WriteBatch:
        batch = WriteBatch()
        sender = self._sending()
        sender._stage_append(batch, message, sender.encode(message), msg_id, None)
        return batch

    def _stage_unawaited(self, message: object, msg_id: str | None) -> None:
        """Stage a send nobody waits on, in a batch of its own: a dead letter if its commit fails.

        A ``tell_nowait`` (or a transaction's released send) has returned: the
        store's refusal (a message too large for the server) or failure would
        otherwise be seen only in the log.
        """
        batch = self._batch(message, msg_id)
        batch.after_failure(functools.partial(self._not_stored, message))
        self.layer.runtime.store.stage(batch)

    def _not_stored(self, message: object, error: BaseException) -> None:
        """Post ``message``, staged for the mailbox, as a dead letter: its commit failed."""
        self.layer.runtime.dead_letters.post(_not_stored_letter(message, self.address, error))

    def _staged(self, message: object, msg_id: str | None) -> bool:
        """Stage the send in the running handler's transaction, if one is open anywhere."""
        if not self.layer.runtime.in_transaction:
            return False  # the usual case: no callback to build
        release = functools.partial(self._stage_unawaited, message, msg_id)
        return stage_if_in_transaction(self._sending(), message, msg_id, release)

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Append ``message`` to the mailbox; return once it is durable."""
        local = self._local()
        if local is not None:
            return await local.endpoint.send(message, msg_id)
        await checkpoint_if_cancelled()
        if self._staged(message, msg_id):
            if self.layer.runtime.quick_op_yields():  # staged: as ``Cell.send``'s staged send
                await cancel_shielded_checkpoint()
            return True
        await self.layer.runtime.store.submit(self._batch(message, msg_id))
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Stage ``message`` for the mailbox (durable once the store has published it).

        If its commit fails (refused by the server, or the store failed), the
        message is posted to the runtime's dead letters with the reason
        ``not stored: <the error>``.
        """
        local = self._local()
        if local is not None:
            return local.endpoint.send_nowait(message, msg_id)
        if not self._staged(message, msg_id):
            self._stage_unawaited(message, msg_id)
        return True

    async def ask(self, message: object) -> object:
        """Ask the actor if this runtime hosts it.

        Raises:
            ActorStopped: this runtime does not host it (a reply cannot come
                back through the store: tell it, and have it tell you).
        """
        local = self._local()
        if local is None:
            await checkpoint_if_cancelled()
            raise ActorStopped(self.address)
        return await local.endpoint.ask(message)

    def watch(self, watcher: Watcher) -> None:
        """Watch the actor if this runtime hosts it; otherwise nothing to watch (never told)."""
        local = self._local()
        if local is not None:
            local.endpoint.watch(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        """Stop watching the actor hosted here."""
        local = self._local()
        if local is not None:
            local.endpoint.unwatch(watcher)


def _not_stored_letter(message: object, address: Address, error: BaseException) -> DeadLetter:
    """The dead letter of ``message`` for ``address``, which the store did not store."""
    return DeadLetter(message, address, f"not stored: {_describe(_refusal(error))}", error)


def durable_ref(runtime: Runtime, name: str, *, options: Durable | None = None) -> ActorRef[object]:
    """A ref that tells the durable mailbox ``name`` on ``runtime.store``, wherever its actor runs.

    A tell through it returns once the message is durable in the store
    (``tell_nowait`` stages it; inside a durable handler it joins the
    handler's outputs), whether or not an actor consumes the mailbox now: on
    a ``JetStreamStore`` the processes that host ``name`` on the same server
    take it, at least once; on a ``SqliteStore`` it waits for the actor's
    next start in this runtime. If this runtime hosts the actor, the ref
    delivers through it (and ``ask`` works; a balancing pool's mailbox:
    through the pool, whatever its resizes); otherwise ``ask`` raises
    ``ActorStopped``. ``options`` make the mailbox if nobody has yet (its
    host's own options replace them when it opens it).

    Capacity: while the actor does not run in this runtime, a ``SqliteStore``
    stores these tells at once, beyond ``capacity`` if need be (no host
    counts the mailbox's depth here, and checking would read the disk for
    every tell); a ``JetStreamStore``'s server enforces it. A ``tell_nowait``
    whose commit fails (refused, or the store failed) is posted to the
    runtime's dead letters with the reason ``not stored: <the error>``.

    Raises:
        RuntimeError: the runtime has no store.
        ValueError: ``name`` could not name an actor (empty, not a string, with
            a ``/`` or whitespace...): no actor could ever read that mailbox.
        TypeError: ``options`` is not a ``Durable`` (nor None).
    """
    check_name(name, "a durable mailbox name")
    layer = typing.cast(_Layer, runtime.extension("durable"))
    endpoint = _MailboxEndpoint(layer, name, Durable() if options is None else options)
    return ActorRef(endpoint.address, endpoint)
