"""An instance failing while a linked actor's failure is pending fails once, with its own error."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, Restart
from trouper.runtime import ActorEvent, EventKind


@attrs.frozen
class Link:
    ref: trouper.ActorRef[object]


@attrs.frozen
class Go:
    pass


@attrs.frozen
class Boom:
    pass


class Partner(Actor):
    """Fails on ``Boom``."""

    @trouper.handler
    async def boom(self, message: Boom) -> None:
        raise ValueError("partner")


class Worker(Actor):
    """Links on ``Link``; on ``Go`` waits for ``gate`` then raises; notes each restart's cause."""

    def __init__(self, gate: trio.Event, causes: list[str]) -> None:
        self.gate = gate
        self.causes = causes

    async def on_restart(self, cause: BaseException) -> None:
        self.causes.append(type(cause).__name__)

    @trouper.handler
    async def link(self, message: Link) -> None:
        self.ctx.link(message.ref)

    @trouper.handler
    async def go(self, message: Go) -> None:
        await self.gate.wait()
        raise RuntimeError("own")


async def test_a_link_failure_pending_when_the_handler_raises_is_not_a_second_report() -> None:
    """The handler's error is decided on; the link failure then fails the next instance."""
    gate = trio.Event()
    causes: list[str] = []
    async with trouper.open_runtime() as rt:
        failures: list[str] = []

        def note(event: ActorEvent) -> None:
            if event.address.path == "/worker":
                failures.append(f"{event.kind.value} {type(event.reason).__name__}")

        rt.events.listen(note, kinds=[EventKind.FAILED, EventKind.RESTARTED])
        partner = await rt.spawn(Partner, restart=Restart.TEMPORARY)
        worker = await rt.spawn(Worker, gate, causes, name="worker", restart=Restart.PERMANENT)
        await worker.tell(Link(partner))
        await worker.tell(Go())
        await trio.testing.wait_all_tasks_blocked()  # the worker waits in its handler
        await partner.tell(Boom())
        await trio.testing.wait_all_tasks_blocked()  # the link failure is pending
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        # Each failure reported is decided on, the handler's own first (as it would be
        # had the link failure come a moment later, once the instance had failed).
        assert failures == [
            "failed RuntimeError",
            "restarted RuntimeError",
            "failed LinkedActorFailed",
            "restarted LinkedActorFailed",
        ]
        assert causes == ["RuntimeError", "LinkedActorFailed"]
