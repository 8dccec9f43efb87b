"""The envelopes items travel in through a mailbox, besides an ``Ask``.

A told message is put in a mailbox as it is, the common and fast case. Two
envelopes wrap it when something must travel with it: ``Carried`` holds the
contexts instruments attached to it (``Instrument.message_sent``), and
``WithMsgId`` the id that deduplicates it in a mailbox that keeps ids (a durable
one). ``message_of`` opens any of them.
"""

from __future__ import annotations

from trouper.runtime._ask import Ask
from trouper.runtime._instrument import Contexts

__all__ = ["Carried", "WithMsgId", "message_of"]


def message_of(item: object) -> object:
    """The message inside a mailbox item (an ``Ask``, a message carrying contexts, or itself)."""
    cls = type(item)
    if cls is Ask or cls is Carried or cls is WithMsgId:
        return item.message  # type: ignore[attr-defined]
    return item


class WithMsgId:
    """A told message and the id that deduplicates it (for mailboxes that keep ids)."""

    __slots__ = ("message", "msg_id")

    def __init__(self, message: object, msg_id: str) -> None:
        self.message = message
        # The message as told.
        self.msg_id = msg_id
        # The sender's id for it: a second one with this id within the window is dropped.

    def __repr__(self) -> str:
        return f"WithMsgId({self.message!r}, {self.msg_id!r})"


class Carried:
    """A told message with the contexts instruments attached to it (see ``message_sent``)."""

    __slots__ = ("contexts", "message")

    def __init__(self, message: object, contexts: Contexts) -> None:
        self.message = message
        # The message as told.
        self.contexts = contexts
        # What each instrument carries with it, by instrument.
