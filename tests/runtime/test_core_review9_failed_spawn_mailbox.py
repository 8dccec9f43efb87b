"""Review 9: a spawn that fails after opening the actor's mailbox closes it again."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

import trouper
from trouper import Actor, handler
from trouper.durable import Durable, SqliteStore
from trouper.runtime.lowlevel import MemoryMailbox


@trouper.message("test.runtime.review9.charge")
@attrs.frozen
class Charge:
    order: str


class Broken(Actor):
    """Its ``__init__`` raises: no instance is ever built."""

    def __init__(self) -> None:
        raise ValueError("cannot build")

    @handler
    async def charge(self, message: Charge) -> None:
        pass


class Till(Actor):
    def __init__(self, got: list[str]) -> None:
        self.got = got

    @handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message.order)


class Opens:
    """A mailbox factory that keeps what it opened."""

    def __init__(self) -> None:
        self.opened: list[MemoryMailbox] = []

    def open_mailbox(
        self, runtime: trouper.Runtime, name: str | None, size: float
    ) -> MemoryMailbox:
        mailbox = MemoryMailbox(size)
        self.opened.append(mailbox)
        return mailbox


async def test_a_spawn_whose_factory_raises_closes_the_mailbox_it_opened() -> None:
    """Nothing will ever consume it: the factory's mailbox is closed, not left open."""
    opens = Opens()
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^cannot build$"):
            await rt.spawn(Broken, name="broken", mailbox=opens)
        (mailbox,) = opens.opened
        assert mailbox.closed


async def test_a_durable_name_is_free_again_after_a_spawn_that_failed(tmp_path: Path) -> None:
    """The failed spawn's durable mailbox no longer holds the name as in use by a living actor."""
    got: list[str] = []
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        with pytest.raises(ValueError, match=r"^cannot build$"):
            await rt.spawn(Broken, name="box", mailbox=Durable())
        ref = await rt.spawn(Till, got, name="box", mailbox=Durable())
        await ref.ask(Charge("a"))
    assert got == ["a"]
