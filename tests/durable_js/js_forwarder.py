"""A worker process for the paused-host test: hosts the durable mailbox ``fw`` until told to stop.

``python js_forwarder.py URL PREFIX``: prints ``ready`` once its mailbox is
open. A job's first delivery tells ``Done(n, "worker:1")`` to the durable
mailbox ``sink``, prints ``holding``, sleeps a second (the test freezes the
process meanwhile), prints ``returning`` and returns; later deliveries just
forward. A line ``stop`` on stdin flushes the store, prints ``flushed`` and
ends the process.
"""

from __future__ import annotations

import sys

import trio
from js_support import Done, Job, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref


class Forwarder(trouper.Actor):
    """Forwards each job to ``sink``; holds its first delivery a second."""

    def __init__(self, sink: trouper.ActorRef[object]) -> None:
        self.sink = sink

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        await self.sink.tell(Done(message.n, f"worker:{delivery.attempt}"))
        if delivery.attempt == 1:
            print("holding", flush=True)
            await trio.sleep(1.0)
            print("returning", flush=True)


async def main(url: str, prefix: str) -> None:
    async with trouper.open_runtime(store=store_for(url, prefix, ack_wait=0.5)) as rt:
        await rt.spawn(Forwarder, durable_ref(rt, "sink"), name="fw", mailbox=Durable(prefetch=1))
        print("ready", flush=True)
        while (await trio.to_thread.run_sync(sys.stdin.readline)).strip() != "stop":
            pass
        await rt.store.flush()
        print("flushed", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
