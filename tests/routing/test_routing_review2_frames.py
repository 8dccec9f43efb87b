"""Review fix: a routing failure's dead letter keeps the error, not its frames' locals."""

from __future__ import annotations

import gc
import traceback
import weakref

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.routing import ConsistentHash, resize
from trouper.runtime import DeadLetterReason


@attrs.frozen
class Job:
    key: int


class Big:
    """Stands for a large object the failing key function holds in a local variable."""


class Gated(Actor):
    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @handler
    async def job(self, message: Job) -> None:
        await self.gate.wait()


async def test_a_retired_message_whose_key_fails_does_not_keep_the_frames_locals() -> None:
    """Shrinking: a queued message whose key now raises is a dead letter; locals are freed."""
    kept: list[weakref.ref[object]] = []
    broken: list[bool] = []

    def key(message: object) -> object:
        assert isinstance(message, Job)
        if broken:
            big = Big()
            kept.append(weakref.ref(big))
            raise ValueError("no key")
        return message.key

    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Gated, 2, gate, router=ConsistentHash(key))
        for i in range(20):
            pool.tell_nowait(Job(i))
        await trio.testing.wait_all_tasks_blocked()
        broken.append(True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(resize, pool, 1)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        await trio.testing.wait_all_tasks_blocked()
        letters = [
            letter
            for letter in rt.dead_letters.recent
            if letter.reason == DeadLetterReason.ROUTING_FAILED
        ]
        assert letters
        assert 'raise ValueError("no key")' in "".join(
            traceback.format_exception(letters[-1].error)
        )
        del letters
        gc.collect()
        assert kept
        assert [ref() for ref in kept] == [None] * len(kept)


@attrs.frozen
class Task:
    key: int
    fail: bool = False
    payload: object = None


class Idle(Actor):
    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @handler
    async def task(self, message: Task) -> None:
        await self.gate.wait()


async def test_a_routing_failure_does_not_keep_the_other_retired_messages() -> None:
    """The dead letter's error does not hold the retired member's queue (abandoned asks here)."""
    broken: list[bool] = []

    def key(message: object) -> object:
        assert isinstance(message, Task)
        if broken and message.fail:
            raise ValueError("no key")
        return message.key

    gate = trio.Event()
    payloads: list[weakref.ref[object]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Idle, 2, gate, router=ConsistentHash(key))
        for i in range(10):
            pool.tell_nowait(Task(i))  # each member is busy with one and queues the rest
            pool.tell_nowait(Task(i, fail=True))
        async with trio.open_nursery() as nursery:
            for i in range(10):
                big = Big()
                payloads.append(weakref.ref(big))
                nursery.start_soon(pool.ask, Task(i, payload=big))
            del big
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()  # every ask abandoned, still queued
        broken.append(True)
        await resize(pool, 1)
        assert any(
            letter.reason == DeadLetterReason.ROUTING_FAILED for letter in rt.dead_letters.recent
        )
        gate.set()
        await trio.testing.wait_all_tasks_blocked()  # member-1 skips its abandoned asks
        gc.collect()
        assert [ref() for ref in payloads] == [None] * len(payloads)
