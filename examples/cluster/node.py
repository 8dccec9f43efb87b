"""One node of the cluster demo: ``python node.py URL PREFIX NAME`` (started by cluster_demo.py).

Joins the cluster as NAME with a ``Worker`` in the queue group ``workers`` of
the subject ``jobs`` and a ``Listener`` of ``news.>``, prints ``ready``, and
serves until its standard input closes (or it is killed).
"""

from __future__ import annotations

import logging
import os
import sys

import trio
from shared import HEARTBEAT, Listener, Worker

import trouper
from trouper.remote import Nats, cluster_of


async def main(url: str, prefix: str, name: str) -> None:
    transport = Nats(url, prefix=prefix, heartbeat=HEARTBEAT)
    logging.getLogger("trouper.remote").setLevel(logging.ERROR)  # the demo prints its own
    async with trouper.open_runtime(node=name, transport=transport) as rt:
        rt.topics.subscribe(await rt.spawn(Worker, name="worker"), "jobs", queue="workers")
        rt.topics.subscribe(await rt.spawn(Listener, name="listener"), "news.>")
        await cluster_of(rt).flush()  # the queue group is in place on the server
        print("ready", flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        while await stdin.receive_some():
            pass


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
