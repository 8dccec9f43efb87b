"""A worker process for the SIGKILL test: hosts the durable mailbox ``jobs`` until killed.

``python js_worker.py URL PREFIX``: each job is handled slowly and reported by
a tell to the durable mailbox ``done`` (whose host is the test process); it
prints ``ready`` once its mailbox is open.
"""

from __future__ import annotations

import sys

import trio
from js_support import Done, Job, store_for

import trouper
from trouper.durable import Durable, durable_ref


class Worker(trouper.Actor):
    """Handles a job in 20 ms and tells ``done`` about it."""

    def __init__(self, done: trouper.ActorRef[object], who: str) -> None:
        self.done = done
        self.who = who

    @trouper.handler
    async def job(self, message: Job) -> None:
        await trio.sleep(0.02)
        await self.done.tell(Done(message.n, self.who))


async def main(url: str, prefix: str) -> None:
    async with trouper.open_runtime(store=store_for(url, prefix, ack_wait=1.0)) as rt:
        done = durable_ref(rt, "done")
        await rt.spawn(Worker, done, "worker", name="jobs", mailbox=Durable(prefetch=20))
        print("ready", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
