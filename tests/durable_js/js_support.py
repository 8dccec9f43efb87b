"""Helpers for the JetStream durable tests: syncing servers, stores, messages and actors."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

import trouper
from trouper.durable import (
    DeadLetterRecord,
    Delivery,
    Durable,
    DurableQueue,
    GiveUp,
    JetStreamStore,
    durable_ref,
)
from trouper.errors import StoreRefused
from trouper.testing import NatsServer


def syncing_server(directory: Path) -> NatsServer:
    """A JetStream server (not started) whose store in ``directory`` syncs every write."""
    return NatsServer(
        jetstream=False,
        config=f'jetstream {{ store_dir: "{directory}", sync_interval: always }}',
    )


def store_for(url: str, prefix: str, **options: float) -> JetStreamStore:
    """A store on ``url`` under ``prefix``, with test-sized timings unless given."""
    timings = {"ack_wait": 2.0, "poll_expires": 2.0, "heartbeat": 0.5, **options}
    return JetStreamStore(
        url,
        prefix=prefix,
        ack_wait=timings["ack_wait"],
        poll_expires=timings["poll_expires"],
        heartbeat=timings["heartbeat"],
    )


async def dead_letters(rt: trouper.Runtime, mailbox: str) -> list[DeadLetterRecord]:
    """The dead letters of ``mailbox`` on ``rt``'s store."""
    return [record async for record in rt.store.dead_letters(mailbox)]


@trouper.message("js-test.job")
@attrs.frozen
class Job:
    """A unit of work."""

    n: int


@trouper.message("js-test.done")
@attrs.frozen
class Done:
    """Job ``n`` was handled by ``by``."""

    n: int
    by: str


class Sink(trouper.Actor):
    """Collects every ``Done``."""

    def __init__(self, got: list[Done]) -> None:
        self.got = got

    @trouper.handler
    async def done(self, message: Done) -> None:
        self.got.append(message)


class JobSink(trouper.Actor):
    """Collects each ``Job``'s number."""

    def __init__(self, got: list[int]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.got.append(message.n)


class Refuser(trouper.Actor):
    """Gives up on every ``Done`` with a reason longer than a dead letter keeps."""

    @trouper.handler
    async def done(self, message: Done) -> None:
        raise GiveUp("r" * 3000 + " the end")


async def bury_largest_tell(
    rt: trouper.Runtime, name: str, *, step: int
) -> tuple[int, DeadLetterRecord]:
    """Spawn a ``Refuser`` as ``name``, tell it the largest ``Done`` a tell takes: size, record.

    The size is searched down from 1 MiB - 1 KiB, ``step`` bytes a refusal
    (refused tells are not staged); the dead letter is awaited (bounded).
    """
    await rt.spawn(Refuser, name=name, mailbox=Durable(backoff=(0.05,), max_deliveries=3))
    ref = durable_ref(rt, name)
    size = 1024 * 1024 - 1024
    while True:
        try:
            await ref.tell(Done(1, "y" * size))
            break
        except StoreRefused:
            size -= step

    async def buried() -> bool:
        return bool(await dead_letters(rt, name))

    await eventually(buried, seconds=5.0)
    (record,) = await dead_letters(rt, name)
    return size, record


async def eventually(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Wait until ``condition()`` is true: the server delivers in its own time (bounded, real time).

    ``condition`` may be async. Polls every 10 ms, since what is awaited
    happens in another process (the server, a worker).
    """
    with trio.fail_after(seconds):
        for _ in itertools.count():
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await trio.sleep(0.01)


class Taker:
    """Takes deliveries from a durable mailbox as a cell does: pop, or park until one comes."""

    def __init__(self) -> None:
        self.woken = trio.Event()

    def wake(self) -> None:
        self.woken.set()

    async def take(self, queue: DurableQueue) -> Delivery:
        """The next delivery (bounded: the server delivers in its own time)."""
        with trio.fail_after(10):
            while not queue.items:
                self.woken = trio.Event()
                queue.register(self)
                try:
                    await self.woken.wait()
                finally:
                    queue.forget(self)
        item = queue.items.popleft()
        assert isinstance(item, Delivery)
        return item
