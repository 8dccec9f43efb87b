"""A settling mailbox meets its cell (``attach``) and prepares each instance before it starts."""

from __future__ import annotations

import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.actors import Address
from trouper.runtime.lowlevel import Cell, MailboxEnding, MemoryMailbox


class Journal(MemoryMailbox):
    """An in-memory settling mailbox that writes down the hooks the engine calls."""

    settles = True

    def __init__(self, size: float, log: list[str]) -> None:
        super().__init__(size)
        self.log = log

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        return False

    def attach(self, cell: Cell) -> None:
        self.log.append(f"attach {cell.address.path}")

    async def prepare(self, instance: Actor) -> None:
        await trio.sleep(1)  # the instance waits: nothing of it runs before this returns
        self.log.append(f"prepare {type(instance).__name__}")


class Journals:
    """Opens one ``Journal`` per actor; remembers the names it was given."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.names: list[str | None] = []

    def open_mailbox(self, runtime: trouper.Runtime, name: str | None, size: float) -> Journal:
        self.names.append(name)
        return Journal(size, self.log)


class Fails(Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append("on_start")

    async def on_restart(self, cause: BaseException) -> None:
        self.log.append("on_restart")

    @handler
    async def fail(self, message: str) -> None:
        raise ValueError(message)


class Quiet(Actor):
    """Keeps the default on_start."""


async def test_prepare_runs_before_each_start_and_restart() -> None:
    """attach once at spawn; prepare before on_start, and before on_restart after a failure."""
    journals = Journals()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Fails, journals.log, name="f", mailbox=journals)
        await ref.tell("boom")
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(2)
    assert journals.log == [
        "attach /f",
        "prepare Fails",
        "on_start",
        "prepare Fails",
        "on_restart",
        "on_start",
    ]


async def test_spawn_returns_once_a_default_start_actor_is_prepared() -> None:
    """An actor with the default on_start is started only once its mailbox prepared it."""
    journals = Journals()
    async with trouper.open_runtime() as rt:
        await rt.spawn(Quiet, name="q", mailbox=journals)
        assert (journals.log, trio.current_time()) == (["attach /q", "prepare Quiet"], 1.0)


async def test_an_unnamed_actor_opens_its_mailbox_with_no_name() -> None:
    """The factory learns that the name is automatic (None), so a durable one can refuse."""
    journals = Journals()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Quiet, mailbox=journals)
        await rt.spawn(Quiet, name="named", mailbox=journals)
    assert journals.names == [None, "named"]
    assert ref.address == Address("local", "/Quiet-1")
