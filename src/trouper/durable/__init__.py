"""Durable delivery: persisted mailboxes, ack, retry with backoff, a dead-letter queue.

Imports ``trouper.errors`` and Trio only: the engine plugs ``DurableQueue`` in
as a cell's mailbox. ``SqliteStore`` keeps messages in one SQLite file.
"""

from trouper.durable._backoff import ExponentialJitter, RetryBackoff
from trouper.durable._queue import (
    HANDLED,
    RETURNED,
    Delivery,
    Durable,
    DurableQueue,
    EncodedMessage,
    Failed,
    GiveUp,
    Handled,
    MessageCodec,
    Retry,
    Returned,
    WithMsgId,
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
    "HANDLED",
    "RETURNED",
    "Append",
    "DeadLetterRecord",
    "Delivery",
    "Durable",
    "DurableQueue",
    "EncodedMessage",
    "ExponentialJitter",
    "Failed",
    "GiveUp",
    "Handled",
    "MailboxListener",
    "MailboxOpening",
    "MailboxStatistics",
    "MessageCodec",
    "Retry",
    "RetryBackoff",
    "Returned",
    "SqliteStore",
    "Store",
    "StoreStatistics",
    "StoredMessage",
    "WithMsgId",
    "WriteBatch",
]

for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and _value.__module__.startswith(__name__ + "."):
        _value.__module__ = __name__
del _name, _value
