"""Every error trouper raises, under one base.

Each error is also a subclass of the Trio or builtin error it resembles, so code
that already catches ``trio.WouldBlock`` or ``ValueError`` keeps working::

    ActorError (Exception)
    ├── ActorStopped (trio.BrokenResourceError)
    ├── MailboxFull (trio.WouldBlock)
    ├── UnhandledMessage (TypeError)
    ├── HandlerError (RuntimeError)
    ├── StartFailed (RuntimeError)
    ├── RestartIntensityExceeded (RuntimeError)
    ├── ChildFailed (RuntimeError)
    ├── LinkedActorFailed (RuntimeError)
    ├── NameTaken (ValueError)
    ├── DuplicateChild (ValueError)
    ├── ChildNotFound (LookupError)
    ├── StoreError (OSError)
    │   ├── NotAStore
    │   ├── StoreCorrupt
    │   ├── StoreLocked
    │   ├── StoreVersionTooNew
    │   └── StoreFailed
    └── InvalidSubject (ValueError)

Errors carry addresses (plain values), never live references, so they pickle
and can cross a process boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from trouper.actors import Address

__all__ = [
    "ActorError",
    "ActorStopped",
    "ChildFailed",
    "ChildNotFound",
    "DuplicateChild",
    "HandlerError",
    "InvalidSubject",
    "LinkedActorFailed",
    "MailboxFull",
    "NameTaken",
    "NotAStore",
    "RestartIntensityExceeded",
    "StartFailed",
    "StoreCorrupt",
    "StoreError",
    "StoreFailed",
    "StoreLocked",
    "StoreVersionTooNew",
    "UnhandledMessage",
]


class ActorError(Exception):
    """Base class of every error trouper raises on purpose.

    Subclasses keep the arguments they were built with in ``args``, so they
    pickle and compare like builtin exceptions.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)

    def __str__(self) -> str:
        return self._message()

    def _message(self) -> str:
        return super().__str__()


class ActorStopped(ActorError, trio.BrokenResourceError):
    """The target actor has stopped for good.

    Raised by ``ask`` when the target has stopped (at once) or stops before it
    answers (its queued asks are failed with this error when it stops).
    ``tell`` to a stopped actor never raises: the message becomes a dead letter.
    """

    def __init__(self, address: Address) -> None:
        super().__init__(address)

    @property
    def address(self) -> Address:
        """The address of the actor that stopped."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"actor {self.address} has stopped"


class MailboxFull(ActorError, trio.WouldBlock):
    """``tell_nowait`` found the target's mailbox full; the message was not sent."""

    def __init__(self, address: Address, capacity: float) -> None:
        super().__init__(address, capacity)

    @property
    def address(self) -> Address:
        """The address of the actor whose mailbox is full."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"mailbox of {self.address} is full ({self.args[1]} messages)"


class UnhandledMessage(ActorError, TypeError):
    """No handler of the target takes the message's type, and it has no ``receive``.

    Raised by ``ask`` at once; a ``tell`` of such a message becomes a dead letter.
    """

    def __init__(self, address: Address, message_type: str) -> None:
        super().__init__(address, message_type)

    def _message(self) -> str:
        return f"actor {self.args[0]} has no handler for {self.args[1]}"


class HandlerError(ActorError, RuntimeError):
    """The handler that took an ``ask`` raised; the original error is ``__cause__``."""

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"handler of {self.args[0]} raised {self.args[1]}"


class StartFailed(ActorError, RuntimeError):
    """An actor could not start: its first ``on_start`` raised.

    Raised by ``spawn`` (and by ``start_child``) once nothing of the actor
    runs any more; the original error is ``__cause__``. (An error of the
    factory itself, like calling a class with wrong arguments, is raised by
    ``spawn`` as it is.)
    """

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"actor {self.args[0]} failed to start: {self.args[1]}"


class RestartIntensityExceeded(ActorError, RuntimeError):
    """A supervisor saw more restarts than its strategy allows and gave up.

    The supervisor then fails with this error (its parent decides what happens
    to it); at the runtime's root it leaves ``open_runtime()`` when the runtime
    was opened with ``on_root_give_up="escalate"``. ``__cause__`` is the last
    child failure.
    """

    def __init__(self, address: Address, max_restarts: int, within: float) -> None:
        super().__init__(address, max_restarts, within)

    def _message(self) -> str:
        return (
            f"{self.args[0]} failed more than {self.args[1]} restarts "
            f"allow within {self.args[2]} s; its supervisor gave up"
        )


class ChildFailed(ActorError, RuntimeError):
    """A child failed and its supervisor's strategy chose ``Directive.ESCALATE``.

    The supervisor fails with this error; ``__cause__`` is the child's error.
    """

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"child {self.args[0]} failed and escalated: {self.args[1]}"


class LinkedActorFailed(ActorError, RuntimeError):
    """An actor linked to this one failed, and this one does not trap exits.

    The linked actor fails with this error (its supervisor decides what
    happens next); ``__cause__`` is the error the other actor stopped with.
    """

    def __init__(self, address: Address, description: str) -> None:
        super().__init__(address, description)

    def _message(self) -> str:
        return f"linked actor {self.args[0]} failed: {self.args[1]}"


class NameTaken(ActorError, ValueError):
    """``spawn`` was given a name that a living actor already has."""

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def _message(self) -> str:
        return f"an actor named {self.args[0]!r} already exists"


class DuplicateChild(ActorError, ValueError):
    """A supervisor was given a child id it already has."""

    def __init__(self, supervisor: Address, child_id: str) -> None:
        super().__init__(supervisor, child_id)

    def _message(self) -> str:
        return f"{self.args[0]} already has a child with id {self.args[1]!r}"


class ChildNotFound(ActorError, LookupError):
    """A supervisor was asked about a child id it does not have."""

    def __init__(self, supervisor: Address, child_id: str) -> None:
        super().__init__(supervisor, child_id)

    def _message(self) -> str:
        return f"{self.args[0]} has no child with id {self.args[1]!r}"


class InvalidSubject(ActorError, ValueError):
    """A topic subject or subscription pattern does not follow the grammar.

    The message says which subject and what is wrong with it.
    """

    def __init__(self, subject: str, problem: str) -> None:
        super().__init__(subject, problem)

    def _message(self) -> str:
        return f"invalid subject {self.args[0]!r}: {self.args[1]}"


class StoreError(ActorError, OSError):
    """The durable store could not be used; the message names the file and the reason.

    The base of the store's errors (raised when a store is opened, or by a write
    that cannot be made durable). It is an ``OSError`` because every one of them is
    a problem with a file, so code that already handles ``OSError`` for files
    keeps working.
    """

    def __init__(self, path: str, problem: str, *more: object) -> None:
        # BaseException's own __init__: OSError's would read the first two
        # arguments as errno and strerror and drop a third from ``args``.
        BaseException.__init__(self, path, problem, *more)

    @property
    def path(self) -> str:
        """The store file concerned."""
        return self.args[0]  # type: ignore[no-any-return]

    def _message(self) -> str:
        return f"store {self.args[0]!r}: {self.args[1]}"


class NotAStore(StoreError):
    """Opening a file that is not a trouper store (another SQLite database, or not SQLite)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return f"{self.args[0]!r} is not a trouper store: {self.args[1]}"


class StoreCorrupt(StoreError):
    """Opening a trouper store whose file is damaged (SQLite's integrity check failed)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return f"store {self.args[0]!r} is corrupt: {self.args[1]}"


class StoreLocked(StoreError):
    """Opening a store that another runtime (in this process or another one) has open.

    One store file serves one runtime at a time; the lock is an exclusive
    ``flock`` on the file named in the message, released when that runtime
    closes its store or its process ends.
    """

    def __init__(self, path: str, lock_path: str) -> None:
        super().__init__(path, lock_path)

    def _message(self) -> str:
        return (
            f"store {self.args[0]!r} is in use by another runtime "
            f"(lock held on {self.args[1]!r})"
        )


class StoreVersionTooNew(StoreError):
    """Opening a store written by a newer trouper, whose schema this one does not know."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(path, found, supported)

    def _message(self) -> str:
        return (
            f"store {self.args[0]!r} has schema version {self.args[1]}, newer than "
            f"{self.args[2]}, the newest this trouper knows: upgrade trouper to open it"
        )


class StoreFailed(StoreError):
    """A commit failed (a full disk, an I/O error): nothing in it was stored.

    Raised to every writer waiting on that commit and on any write after it:
    the store stops accepting writes (as PostgreSQL stops after a failed
    ``fsync``), so nothing is acknowledged that is not on disk. Close it and
    open it again once the cause is fixed; the messages it held are redelivered.
    ``__cause__`` is SQLite's error.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)

    def _message(self) -> str:
        return f"store {self.args[0]!r} failed: {self.args[1]}; it accepts no more writes"
