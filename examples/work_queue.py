"""A work queue: a balancing pool of 4 workers drains 40 jobs while one worker crashes.

Shows ``Balancing()`` (one mailbox shared by the members: each job is taken by
exactly one idle worker), a worker crashing on a job and being restarted by
the pool without losing the rest of the queue, the crashed job coming back as
a dead letter and being queued again, and the pool's one ref answering an
``ask`` and ``members()``. Runs on virtual time, so its output never changes.
"""

from __future__ import annotations

from collections import Counter

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, DeadLetter, EventKind, handler
from trouper.routing import Balancing, members

JOBS, WORKERS = 40, 4


@attrs.frozen
class Job:
    id: int


@attrs.frozen
class Total(trouper.Request[int]):
    pass


@attrs.define
class Board:
    """What the workers share: jobs done per worker, and whether job 13 has failed yet."""

    handled: Counter[str] = attrs.field(factory=Counter)
    failed_once: bool = False
    finished: trio.Event = attrs.field(factory=trio.Event)


class Worker(Actor):
    """Takes a second per job; job 13 makes it crash, the first time only."""

    def __init__(self, board: Board) -> None:
        self.board = board

    @handler
    async def job(self, message: Job) -> None:
        if message.id == 13 and not self.board.failed_once:
            self.board.failed_once = True
            print(f"t={trio.current_time():g}s job 13 crashed its worker")
            raise RuntimeError("flaky dependency")
        await trio.sleep(1)
        self.board.handled[self.ctx.self_ref.address.path.rpartition("/")[2]] += 1
        if self.board.handled.total() == JOBS:
            self.board.finished.set()

    @handler
    async def total(self, message: Total) -> int:
        return self.board.handled.total()


async def main() -> None:
    board = Board()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, WORKERS, board, router=Balancing(), name="jobs")
        print(f"{len(await members(pool))} workers share one mailbox; queueing {JOBS} jobs")

        def retry(letter: DeadLetter) -> None:
            if letter.reason == "handler failed" and isinstance(letter.message, Job):
                print(f"dead letter: job {letter.message.id} ({letter.error!r}), queued again")
                pool.tell_nowait(letter.message)

        rt.dead_letters.listen(retry)
        rt.events.listen(
            lambda event: print("the pool restarted that worker: same ref, same shared mailbox"),
            kinds=[EventKind.RESTARTED],
        )
        for i in range(JOBS):
            await pool.tell(Job(i))
        await board.finished.wait()
        for member, count in sorted(board.handled.items()):
            print(f"{member} handled {count} jobs")
        total = await pool.ask(Total())
        print(f"total {total} of {JOBS} jobs, in {trio.current_time():g}s of virtual time")


if __name__ == "__main__":
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
