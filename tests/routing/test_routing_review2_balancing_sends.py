"""Review fix: a watched tell to a balancing pool reports its delivery before it is handled."""

from __future__ import annotations

import attrs

import trouper
from trouper import Actor, handler
from trouper.routing import Balancing, RoundRobin, Router
from trouper.runtime.lowlevel import Cell, Instrument, SendKind


@attrs.frozen
class Job:
    id: int


class Worker(Actor):
    @handler
    async def job(self, message: Job) -> None:
        pass


@attrs.define(eq=False)
class Journal(Instrument):
    """Notes the send hooks and handler starts of ``Job`` messages, in order."""

    seen: list[tuple[str, int]] = attrs.field(factory=list)

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Job):
            self.seen.append(("sent", message.id))
        return None

    def message_delivered(self, actor: Cell, message: object) -> None:
        if isinstance(message, Job):
            self.seen.append(("delivered", message.id))

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        if isinstance(message, Job):
            self.seen.append(("started", message.id))


async def _journal_of_one_tell(router: Router) -> list[tuple[str, int]]:
    journal = Journal()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(journal)
        pool = await rt.spawn_pool(Worker, 1, router=router)
        await pool.tell(Job(1))
    return journal.seen


async def test_a_tell_to_a_balancing_pool_is_delivered_before_a_member_handles_it() -> None:
    """``message_delivered`` comes before ``handler_started``, as for any other pool."""
    expected = [("sent", 1), ("delivered", 1), ("started", 1)]
    assert await _journal_of_one_tell(RoundRobin()) == expected
    assert await _journal_of_one_tell(Balancing()) == expected
