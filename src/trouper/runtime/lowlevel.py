"""The engine's extension points, for the layers built on it (topics, routing, durable, remote).

Like ``trio.lowlevel``: public so that the layers above need not import
private modules, but not for applications. Each extension point is written
up in ``docs/engine.md`` with an example of a layer using it.

Instruments (after ``trio.abc.Instrument``) watch what the engine does:
``Instrument`` is the base class with every hook (``actor_started``,
``actor_failed``, ``actor_restarted``, ``actor_stopped``, ``intercept_send``,
``message_sent``, ``message_delivered``, ``handler_started``,
``handler_finished``, ``timer_fired``, ``dead_letter``, and across
processes ``inject_headers`` and ``extract_headers``); install one with
``runtime.instruments.add(instrument)`` (``Instruments``). ``SendKind``,
``Interception`` and ``HandlerOutcome`` are the values hooks see and return.
A hook no instrument implements costs the hot path a truth test. A layer
that carries messages to another process asks
``runtime.instruments.outgoing_headers()`` in the sender's task and, on the
receiving side, delivers inside ``runtime.instruments.received(headers)``.

Mailboxes: ``spawn(..., mailbox=factory)`` takes a ``MailboxFactory`` (or an
actor class names one as ``default_mailbox``); ``Mailbox`` is what a cell needs
of the queue it consumes,
including ``settle`` (how each taken message ended, ``MailboxEnding``), so a
durable mailbox can acknowledge or redeliver; ``MemoryMailbox`` is the
in-memory one (also a balancing pool's shared mailbox); ``Consumer`` is a
cell as a mailbox sees it.

Endpoints: ``Endpoint`` is what an ``ActorRef`` needs of whatever delivers
for it: ``send`` and ``send_nowait`` (each says whether the message reached a
mailbox or became a dead letter), ``ask``, and ``watch`` / ``unwatch`` for
death watch (``Watcher``). A cell, a pool and a remote node are peers behind
the same ref. A factory with a ``trouper_endpoint(cell)`` method
(``EndpointFactory``) gives its actors' refs an endpoint of its own; its
``trouper_spawn_failed(cell, endpoint)``, if it has one, is told when the
spawn fails after the endpoint was made (no actor will run behind it).
``Ask`` is an ask in flight; ``Cell.ask_soon`` queues one with a callback
instead of a waiting task (an endpoint that cannot answer by callback, a
broadcast pool, raises ``trouper.errors.CallbackAskUnsupported``, also
importable from here, from its ``ask_soon``);
``message_of(item)`` is the message inside any mailbox item;
``Cell.late_deliveries`` lists the tells an ``Interception`` delayed that are
on their way to a cell (``LateDelivery``: the message, its fate, when it is
due, whether it waits for room). An endpoint whose tells may go into a
mailbox other than its cell's (a balancing pool's shared one) derives from
``SharingEndpoint`` and says, with ``shared_mailbox_full()``, whether that
mailbox is full; one whose tell goes into several mailboxes one after the
other (a broadcast pool's) says so with ``splits_sends()``.

Attaching a layer: ``register_extension(key, factory)`` makes
``runtime.extension(key)`` build the layer's object per runtime on first use
(``rt.topics`` and ``rt.spawn_pool`` go through it), so the engine imports
no layer above it.

The cell's lifecycle, as pure tables (no Trio): ``Phase``, ``Command``,
``ACCEPTS`` (the commands each phase takes), ``RANK`` (which command wins),
``PUBLIC_STATE`` (how each phase shows as an ``ActorState``) and
``admit(phase, pending, command)`` -> ``Verdict``.

Failures a layer reports and keeps (a dead letter's error): once everyone
owed the error has it, ``release_frames_unless_failing(runtime, error)`` lets
go of the local variables of the finished frames its traceback went through
(what a router or an endpoint built), keeping the error, its chain and its
printed traceback, as the engine does with a handler's failure, except while
``runtime.failing`` (the locals stay for post-mortem debugging);
``release_frames(error)`` is the step itself. Unlike
``traceback.clear_frames`` it follows the error's chain and groups, and never
clears a suspended coroutine's frame (which would close the coroutine).

The engine's parts, for layers that need them: ``Cell`` (runs one actor),
``Guardian`` (the supervising half of an actor or of the root, ``rt.root``),
``spawn_cell``, ``cell_of`` (the local cell behind a ref), ``check_reachable``
(refuse an actor of a runtime in another thread, which no tell reaches), ``current_cell``
(the actor whose task runs now), ``running`` (run a ``Runtime`` built by
hand). Everything here may change between releases without notice.
"""

from trouper._exports import publish
from trouper.actors import Endpoint, Watcher
from trouper.errors import CallbackAskUnsupported as CallbackAskUnsupported
from trouper.runtime._ask import Ask, ReplyCallback
from trouper.runtime._cell import (
    Cell,
    LateDelivery,
    Transaction,
    check_reachable,
    current_cell,
    stage_if_in_transaction,
)
from trouper.runtime._envelopes import WithMsgId, message_of
from trouper.runtime._frames import release_frames, release_frames_unless_failing
from trouper.runtime._guardian import Guardian
from trouper.runtime._instrument import (
    HandlerOutcome,
    Instrument,
    Instruments,
    Interception,
    SendKind,
)
from trouper.runtime._lifecycle import (
    ACCEPTS,
    PUBLIC_STATE,
    RANK,
    Command,
    Phase,
    Verdict,
    admit,
)
from trouper.runtime._mailbox import Consumer, Mailbox, MailboxEnding, MemoryMailbox
from trouper.runtime._runtime import (
    EndpointFactory,
    MailboxFactory,
    Transport,
    cell_of,
    register_extension,
    running,
    spawn_cell,
)


class SharingEndpoint:
    """Base of an endpoint whose tells may go into a mailbox its cell shares (a pool's).

    A balancing pool's ref puts its members' messages into the one mailbox
    they all take from, not into the pool actor's own: what watches sends
    (the simulation's waits for room) asks this, rather than the cell's
    mailbox alone, whether a tell may wait. Synchronous, it never waits.
    """

    __slots__ = ()

    def shared_mailbox(self) -> Mailbox | None:
        """The shared mailbox tells go into (``None``: none, they go to members' own)."""
        return None

    def shared_mailbox_full(self) -> bool:
        """Whether the shared mailbox tells go into is full (``False``: none, or room)."""
        mailbox = self.shared_mailbox()
        return mailbox is not None and mailbox.full

    def splits_sends(self) -> bool:
        """Whether a tell cut short may have reached some of its mailboxes and not others.

        ``False`` by default: a tell goes into one mailbox, whole or not at
        all. A broadcast pool's says ``True`` (one mailbox per member, told one
        after the other): what cancels its wait must not send the message
        again elsewhere as if nobody had it.
        """
        return False


__all__ = [
    "ACCEPTS",
    "PUBLIC_STATE",
    "RANK",
    "Ask",
    "Cell",
    "Command",
    "Consumer",
    "Endpoint",
    "EndpointFactory",
    "Guardian",
    "HandlerOutcome",
    "Instrument",
    "Instruments",
    "Interception",
    "LateDelivery",
    "Mailbox",
    "MailboxEnding",
    "MailboxFactory",
    "MemoryMailbox",
    "Phase",
    "ReplyCallback",
    "SendKind",
    "SharingEndpoint",
    "Transaction",
    "Transport",
    "Verdict",
    "Watcher",
    "WithMsgId",
    "admit",
    "cell_of",
    "check_reachable",
    "current_cell",
    "message_of",
    "register_extension",
    "release_frames",
    "release_frames_unless_failing",
    "running",
    "spawn_cell",
    "stage_if_in_transaction",
]

publish(__name__, globals(), private_package="trouper.runtime")
publish(__name__, globals(), private_package="trouper.actors")  # Endpoint, Watcher
