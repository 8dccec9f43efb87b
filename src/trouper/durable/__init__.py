"""Durable delivery: mailboxes kept in a store, ack, retry with backoff, a dead-letter queue.

Imports the engine (``trouper.runtime``), ``trouper.codec``, ``trouper.nats`` and Trio:
``Durable()`` opens a durable mailbox on the runtime's store
(``open_runtime(store=SqliteStore(path))``); ``SqliteStore`` keeps messages
in one SQLite file, ``JetStreamStore`` in a NATS JetStream server shared by
every process that opens it. ``JetStreamStore`` (and with it ``trouper.nats``)
is imported on first use of the name, so a program on SQLite does not load
the NATS client.
"""

from typing import TYPE_CHECKING

from trouper._exports import publish
from trouper.durable._actors import durable_ref
from trouper.durable._backoff import ExponentialJitter, RetryBackoff, retry_delay
from trouper.durable._clock import set_wall_clock
from trouper.durable._queue import (
    Delivery,
    Durable,
    DurableQueue,
    EncodedMessage,
    GiveUp,
    MessageCodec,
    Retry,
)
from trouper.durable._served import ServedQueue
from trouper.durable._sqlite import SqliteStore
from trouper.durable._store import (
    Append,
    DeadLetterRecord,
    DeliveringStore,
    Feed,
    MailboxListener,
    MailboxOpening,
    MailboxStatistics,
    PolledStore,
    Receipt,
    Received,
    Store,
    StoredMessage,
    StoreStatistics,
    WriteBatch,
)

if TYPE_CHECKING:
    from trouper.durable._jetstream import JetStreamStore

__all__ = [
    "Append",
    "DeadLetterRecord",
    "DeliveringStore",
    "Delivery",
    "Durable",
    "DurableQueue",
    "EncodedMessage",
    "ExponentialJitter",
    "Feed",
    "GiveUp",
    "JetStreamStore",
    "MailboxListener",
    "MailboxOpening",
    "MailboxStatistics",
    "MessageCodec",
    "PolledStore",
    "Receipt",
    "Received",
    "Retry",
    "RetryBackoff",
    "ServedQueue",
    "SqliteStore",
    "Store",
    "StoreStatistics",
    "StoredMessage",
    "WriteBatch",
    "durable_ref",
    "retry_delay",
    "set_wall_clock",
]

_LAZY = frozenset({"JetStreamStore"})


def __getattr__(name: str) -> object:
    # ``JetStreamStore`` pulls in the NATS client (about a sixth of this
    # package's import time): imported on first use, then kept as a global.
    if name == "JetStreamStore":
        from trouper.durable._jetstream import JetStreamStore

        JetStreamStore.__module__ = __name__
        globals()[name] = JetStreamStore
        return JetStreamStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


publish(__name__, {**globals(), "__all__": [name for name in __all__ if name not in _LAZY]})
