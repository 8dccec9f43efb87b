"""``AioRef``: an actor's handle for asyncio code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, overload

from trouper.actors import ActorRef, Address, Request

if TYPE_CHECKING:
    from trouper.aio._crossing import Crossing

__all__ = ["AioRef"]

M = TypeVar("M", contravariant=True)
R = TypeVar("R")


class AioRef(Generic[M]):
    """A handle to an actor for asyncio code: ``tell``, ``tell_nowait`` and ``ask`` from a loop.

    The asyncio face of an ``ActorRef``: equal to it and hashed like it (by
    ``address``), and ``ref`` is the ``ActorRef`` itself, which is what goes
    into messages and what actors use. Get one from ``AioRuntime.spawn``,
    ``lookup`` or ``ref(actor_ref)``. Its methods belong to the event loop's
    thread and to asyncio code only (never to actors or other threads); each
    call crosses into the runtime in order with the loop's other calls, so
    messages from one asyncio task to one actor arrive in the order told.
    """

    __slots__ = ("_crossing", "_ref")

    def __init__(self, ref: ActorRef[M], crossing: Crossing) -> None:
        self._ref = ref
        # The actor's ref on the Trio side; never changes.
        self._crossing = crossing
        # The runtime's crossing, which every call of this handle goes through.

    @property
    def address(self) -> Address:
        """The actor's address: a value that names it on its node."""
        return self._ref.address

    @property
    def ref(self) -> ActorRef[M]:
        """The actor's ``ActorRef``: put this in messages; actors and Trio code use it."""
        return self._ref

    async def tell(self, message: M) -> bool:
        """Send ``message`` without waiting for it to be handled.

        Returns ``True`` once the message is in the actor's mailbox, waiting
        while the mailbox is full (backpressure). If the actor has stopped,
        the message becomes a dead letter and this returns ``False``, after
        letting the loop run once (a producer loop can still be timed out). If the
        caller is cancelled before the message reached the mailbox, it is
        not sent.

        Raises:
            RuntimeClosed: the runtime is closed.
        """
        return await self._crossing.tell(self._ref, message)  # type: ignore[arg-type]

    def tell_nowait(self, message: M) -> None:
        """Send ``message`` without waiting; it reaches the mailbox at the next crossing.

        Raises ``MailboxFull`` when the actor's mailbox, counting the
        messages the loop already has on their way to it, is full (for a
        balancing pool, the mailbox its members share, sized by the pool's
        ``mailbox_size=``; for another pool or a remote actor, when the
        runtime's ``mailbox_size`` messages are on their way). A message
        that finds the mailbox full anyway when it crosses (filled meanwhile
        from Trio) waits for room, in order, never lost. One that the
        endpoint refuses as it crosses (a consistent-hash pool whose ``key``
        raises), whose error can no longer be raised here, becomes a dead
        letter with reason ``"delivery failed"`` and the error.

        Raises:
            MailboxFull: the mailbox has no room for it.
            RuntimeClosed: the runtime is closed.
        """
        self._crossing.tell_nowait(self._ref, message)  # type: ignore[arg-type]

    @overload
    async def ask(self, message: Request[R]) -> R: ...

    @overload
    async def ask(self, message: M) -> object: ...

    async def ask(self, message: object) -> object:
        """Send ``message`` and wait for the reply: the return value of its handler.

        The deadline comes from asyncio (``async with asyncio.timeout(1):``
        or ``asyncio.wait_for``). If the caller is cancelled before the actor
        takes the message, the message is withdrawn; if the handler is
        already running, its reply is discarded. Either way nothing is left
        waiting.

        Raises:
            ActorStopped: the actor has stopped, or stops before it replies.
            UnhandledMessage: the actor has no handler for this message's type.
            HandlerError: the handler raised; the original error is ``__cause__``.
            RuntimeClosed: the runtime is closed.
            RuntimeError: the caller is a Trio task (an actor: use ``ref``), or
                another thread; the ask is withdrawn, as a cancelled one is.
        """
        return await self._crossing.ask(self._ref, message)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AioRef | ActorRef):
            return self._ref.address == other.address
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._ref)

    def __repr__(self) -> str:
        return f"<AioRef {self._ref.address}>"
