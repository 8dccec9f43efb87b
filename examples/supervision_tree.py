"""A service that heals itself: a flaky worker under a supervisor under a supervisor.

``fetcher`` crashes on purpose. Its supervisor (``RestForOne``, with backoff)
restarts it and ``parser``, which depends on it; when the crashes come too
fast, that supervisor gives up and ``service`` restarts the whole branch with
a fresh history. Runs on virtual time, so the backoff waits print exactly.
"""

from __future__ import annotations

import logging

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, Backoff, ChildSpec, OneForOne, RestForOne, Supervisor, handler


@attrs.frozen
class Crash:
    pass


class Worker(Actor):
    @handler
    async def crash(self, msg: Crash) -> None:
        raise ConnectionError("upstream went away")


def show(event: trouper.ActorEvent) -> None:
    print(f"t={event.time:4.1f}  {event.address.path:<24} {event.kind.value}")


async def main() -> None:
    logging.getLogger("trouper").setLevel(logging.CRITICAL)  # the events below say it all
    workers = ChildSpec(
        "workers",
        Supervisor,
        ([ChildSpec("fetcher", Worker, name="fetcher"), ChildSpec("parser", Worker)],),
        {"strategy": RestForOne(max_restarts=2, within=10, backoff=Backoff(0.5, 2))},
    )
    services = [ChildSpec("db", Worker), workers]
    async with trouper.open_runtime() as rt:
        start = trio.current_time()
        rt.events.listen(lambda e: show(attrs.evolve(e, time=e.time - start)))
        await rt.spawn(Supervisor, services, strategy=OneForOne(max_restarts=3), name="service")
        for crash in range(1, 5):
            fetcher = rt.lookup("fetcher")
            assert fetcher is not None
            print(f"--- crash {crash}")
            await fetcher.tell(Crash())
            await trio.sleep(3)
        print()
        print(rt.tree())


if __name__ == "__main__":
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
