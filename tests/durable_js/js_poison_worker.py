"""A worker process for the poison test: hosts ``jobs``; job ``POISON`` kills the whole process.

``python js_poison_worker.py URL PREFIX``: prints ``ready`` once its mailbox
is open (prefetch 1, max_deliveries 2); every other job is reported by a tell
of ``Done(n, "<attempt>")`` to the durable mailbox ``done``.
"""

from __future__ import annotations

import os
import signal
import sys

import trio
from js_support import Done, Job, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref

POISON = 2
"""The job that kills its process with SIGKILL each time it runs."""


class Worker(trouper.Actor):
    """Reports each job with its attempt; dies with the poison."""

    def __init__(self, done: trouper.ActorRef[object]) -> None:
        self.done = done

    @trouper.handler
    async def job(self, message: Job) -> None:
        if message.n == POISON:
            os.kill(os.getpid(), signal.SIGKILL)
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        await self.done.tell(Done(message.n, str(delivery.attempt)))


async def main(url: str, prefix: str) -> None:
    async with trouper.open_runtime(store=store_for(url, prefix, ack_wait=1.5)) as rt:
        options = Durable(prefetch=1, max_deliveries=2)
        await rt.spawn(Worker, durable_ref(rt, "done"), name="jobs", mailbox=options)
        print("ready", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
