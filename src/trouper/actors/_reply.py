"""``Reject``: answer an ask with an error, without failing the actor."""

from __future__ import annotations

import attrs

__all__ = ["Reject"]


@attrs.frozen
class Reject:
    """Return this from a handler to make the waiting ``ask`` raise ``error``.

    Unlike raising, rejecting is an answer, not a failure: the actor keeps its
    state and is not restarted, and the asker gets ``error`` itself (not a
    ``HandlerError``). For validation of requests::

        @handler
        async def withdraw(self, msg: Withdraw) -> int | Reject:
            if msg.amount > self.balance:
                return Reject(ValueError("insufficient funds"))
            ...

    A ``Reject`` returned for a ``tell`` has nobody to go to: it becomes a
    dead letter (reason ``"rejected"``) carrying the error.
    """

    error: BaseException
    """What the asker's ``ask`` raises."""
