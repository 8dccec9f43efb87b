"""Actors, messages and a bounded runner shared by the asyncio bridge's tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import attrs
import trio

import trouper
from trouper import Actor, Request, handler
from trouper.aio import AioRuntime

T = TypeVar("T")

DEADLINE = 10.0
"""Seconds any one test's asyncio run may take before it fails."""


def run(main: Callable[[], Coroutine[Any, Any, T]], *, within: float = DEADLINE) -> T:
    """Run ``main()`` in a fresh asyncio loop, failing with ``TimeoutError`` after ``within`` s."""

    async def bounded() -> T:
        async with asyncio.timeout(within):
            return await main()

    return asyncio.run(bounded())


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Balance(Request[int]):
    pass


@attrs.frozen
class Withdraw(Request[int]):
    amount: int


@attrs.frozen
class Where(Request[int]):
    """Asks for the thread the handler runs in."""


class Account(Actor):
    """A balance; overdrawing raises (a crash), ``on_stop`` writes the balance to a journal."""

    def __init__(self, opening: int, journal: list[str] | None = None) -> None:
        self.balance = opening
        self.journal = journal if journal is not None else []

    @handler
    async def deposit(self, message: Deposit) -> None:
        self.balance += message.amount

    @handler
    async def report(self, message: Balance) -> int:
        return self.balance

    @handler
    async def withdraw(self, message: Withdraw) -> int:
        if message.amount > self.balance:
            raise ValueError(f"insufficient funds: {self.balance} < {message.amount}")
        self.balance -= message.amount
        return self.balance

    @handler
    async def where(self, message: Where) -> int:
        return threading.get_ident()

    async def on_stop(self) -> None:
        self.journal.append(f"on_stop {self.balance}")


class Stubborn(Actor):
    """Takes forever to stop: ``on_stop`` journals "stopping" and sleeps."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def on_stop(self) -> None:
        self.journal.append("stopping")
        await trio.sleep_forever()


class Starts(Actor):
    """Notes in ``started`` that its ``on_start`` ran; replies to any message with it."""

    def __init__(self, started: list[bool]) -> None:
        self.started = started

    async def on_start(self) -> None:
        self.started.append(True)

    async def receive(self, message: object) -> object:
        return message


class SlowStarter(Actor):
    """``on_start`` sets ``started`` and waits for ``gate``: a spawn that takes its time."""

    def __init__(self, started: trio.Event, gate: trio.Event) -> None:
        self.started = started
        self.gate = gate

    async def on_start(self) -> None:
        self.started.set()
        await self.gate.wait()


@attrs.frozen
class Hold(Request[str]):
    """Held by ``Holder`` until its gate opens."""


@attrs.frozen
class Note(Request[str]):
    tag: str


class Holder(Actor):
    """Journals every message; ``Hold`` sets ``started`` and waits for ``gate`` before replying."""

    def __init__(self, started: trio.Event, gate: trio.Event, journal: list[str]) -> None:
        self.started = started
        self.gate = gate
        self.journal = journal

    @handler
    async def hold(self, message: Hold) -> str:
        self.journal.append("hold")
        self.started.set()
        await self.gate.wait()
        self.journal.append("released")
        return "held"

    @handler
    async def note(self, message: Note) -> str:
        self.journal.append(message.tag)
        return message.tag


@attrs.frozen
class Introduce(Request[trouper.ActorRef[object]]):
    """Asks a ``Greeter`` for the ref it was given."""


@attrs.frozen
class Greet(Request[str]):
    name: str


class Greeter(Actor):
    """Answers ``Greet``, and hands out a ref (a ref travelling in a reply)."""

    def __init__(self, friend: trouper.ActorRef[object] | None = None) -> None:
        self.friend = friend

    @handler
    async def greet(self, message: Greet) -> str:
        return f"hello {message.name}"

    @handler
    async def introduce(self, message: Introduce) -> trouper.ActorRef[object]:
        assert self.friend is not None
        return self.friend


class Gates:
    """Two Trio events for a ``Holder``, made in Trio through the bridge."""

    def __init__(self, started: trio.Event, gate: trio.Event) -> None:
        self.started = started
        self.gate = gate
        self.held: asyncio.Task[str] | None = None
        # The background ask of ``Hold``, if a test started one: ``open`` awaits it.

    @classmethod
    async def make(cls, rt: AioRuntime) -> Gates:
        """Make the events in the runtime's Trio run."""
        return cls(await rt.run_sync(trio.Event), await rt.run_sync(trio.Event))

    async def wait_started(self, rt: AioRuntime) -> None:
        """Wait (in Trio, through the bridge) until the held handler has begun."""
        await rt.run(self.started.wait)

    async def open(self, rt: AioRuntime) -> None:
        """Let the held handler finish (and its background ask, if any, return)."""
        await rt.run_sync(self.gate.set)
        if self.held is not None:
            assert await self.held == "held"


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until ``condition()`` holds (callers bound it with a deadline).

    For conditions nothing signals (a mailbox's depth): a checkpoint loop, never a sleep.
    """
    while not condition():  # noqa: ASYNC110 (nothing to wait on: the engine signals no depth)
        await asyncio.sleep(0)
