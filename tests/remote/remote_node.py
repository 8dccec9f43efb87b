"""A node process for trouper.remote's tests: ``python remote_node.py URL PREFIX NODE HEARTBEAT``.

Joins the cluster as NODE with an ``acct`` (a ``Node`` account), a ``watcher``
(a ``Watcher``) and a ``counter`` (a ``Counter``), prints ``ready`` and serves
until its standard input closes (then it leaves the cluster gracefully) or
it is killed.
"""

from __future__ import annotations

import os
import sys

import trio
from remote_support import Counter, Node, Watcher

import trouper
from trouper.remote import Nats


async def main(url: str, prefix: str, node: str, heartbeat: float) -> None:
    transport = Nats(url, prefix=prefix, heartbeat=heartbeat, reconnect_wait=0.05)
    async with trouper.open_runtime(node=node, transport=transport, shutdown=0.5) as rt:
        await rt.spawn(Node, 0, name="acct")
        await rt.spawn(Watcher, name="watcher")
        await rt.spawn(Counter, name="counter")
        print("ready", flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        while await stdin.receive_some():
            pass


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
