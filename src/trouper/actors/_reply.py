"""``Reject``: answer an ask with an error, without failing the actor."""

from __future__ import annotations

from types import TracebackType

import attrs

__all__ = ["Reject"]


def _check_error(_instance: object, _attribute: object, value: BaseException) -> None:
    if not isinstance(value, BaseException):
        # Checked here, in the handler that builds it: the handler fails (its
        # asker gets HandlerError) instead of the cell, which answers after it.
        raise TypeError(
            f"Reject takes an exception instance, such as ValueError('why'), got {value!r}"
        )


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

    Raises:
        TypeError: ``error`` is not an exception instance (a string, or an
            exception class); raised in the handler, which then fails.
    """

    error: BaseException = attrs.field(validator=_check_error)
    """What the asker's ``ask`` raises."""
    # ``error``'s traceback when this was made (None, or where the handler caught it).
    _origin: TracebackType | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_origin", self.error.__traceback__)

    def to_raise(self) -> BaseException:
        """``error`` with its traceback as it was when this ``Reject`` was made.

        What an asker raises. Raising an exception adds the raiser's frames to
        its traceback: a ``Reject`` kept and returned again and again (a
        module-level constant for a fixed refusal) would otherwise make its
        error's traceback grow with every ask, keeping every earlier asker's
        frames alive.
        """
        return self.error.with_traceback(self._origin)
