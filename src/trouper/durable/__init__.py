"""Durable delivery: mailboxes kept in a store, ack, retry with backoff, a dead-letter queue.

Imports the engine (``trouper.runtime``), ``trouper.codec`` and Trio:
``Durable()`` opens a durable mailbox on the runtime's store
(``open_runtime(store=SqliteStore(path))``); ``SqliteStore`` keeps messages
in one SQLite file.
"""

from trouper._exports import publish
from trouper.durable._backoff import ExponentialJitter, RetryBackoff
from trouper.durable._queue import (
    Delivery,
    Durable,
    DurableQueue,
    EncodedMessage,
    GiveUp,
    MessageCodec,
    Retry,
)
from trouper.durable._sqlite import SqliteStore
from trouper.durable._store import (
    Append,
    DeadLetterRecord,
    MailboxListener,
    MailboxOpening,
    MailboxStatistics,
    Store,
    StoredMessage,
    StoreStatistics,
    WriteBatch,
)

__all__ = [
    "Append",
    "DeadLetterRecord",
    "Delivery",
    "Durable",
    "DurableQueue",
    "EncodedMessage",
    "ExponentialJitter",
    "GiveUp",
    "MailboxListener",
    "MailboxOpening",
    "MailboxStatistics",
    "MessageCodec",
    "Retry",
    "RetryBackoff",
    "SqliteStore",
    "Store",
    "StoreStatistics",
    "StoredMessage",
    "WriteBatch",
]

publish(__name__, globals())
