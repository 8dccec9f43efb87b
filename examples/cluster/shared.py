"""What the cluster demo's nodes share: the messages they exchange and the actors they run."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, ActorRef, handler

HEARTBEAT = 0.5
"""Seconds between heartbeats: a killed node is seen gone within two of them."""


@trouper.message("cluster-demo.job")
@attrs.frozen
class Job:
    """Work for whichever worker of the queue group gets it; the result goes to ``reply_to``."""

    n: int
    reply_to: ActorRef[object]


@trouper.message("cluster-demo.done")
@attrs.frozen
class Done:
    """A job finished, on ``node``."""

    n: int
    node: str


@trouper.message("cluster-demo.news")
@attrs.frozen
class News:
    """A topic message every node hears."""

    text: str


@trouper.message("cluster-demo.heard")
@attrs.frozen
class Heard:
    """A node heard a ``News``."""

    node: str
    text: str


class Worker(Actor):
    """Takes jobs from the queue group ``workers`` on ``jobs``: 20 ms of work each."""

    @handler
    async def job(self, message: Job) -> None:
        await trio.sleep(0.02)
        await message.reply_to.tell(Done(message.n, self.ctx.runtime.node))


class Listener(Actor):
    """Hears the news and tells the coordinator's log (found by name, on its node)."""

    @handler
    async def news(self, message: News) -> None:
        log = self.ctx.runtime.remote("coordinator", "log")
        await log.tell(Heard(self.ctx.runtime.node, message.text))
