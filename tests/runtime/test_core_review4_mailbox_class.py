"""Review: a mailbox class passed where a mailbox factory instance belongs is refused clearly."""

from __future__ import annotations

import re

import attrs
import pytest

import trouper
from trouper import Actor, handler
from trouper.durable import Durable


class Idle(Actor):
    @handler
    async def ping(self, message: str) -> str:
        return message


class DefaultsToTheClass(Actor):
    """Names the durable mailbox class, not an instance of it, as its default."""

    default_mailbox = Durable  # type: ignore[assignment]

    @handler
    async def ping(self, message: str) -> str:
        return message


@attrs.frozen
class SpawnChild:
    mailbox: object


class Parent(Actor):
    """Spawns a child with the mailbox it is told; answers the TypeError's text, if any."""

    @handler
    async def spawn_child(self, message: SpawnChild) -> str:
        try:
            await self.ctx.spawn(Idle, name="child", mailbox=message.mailbox)  # type: ignore[arg-type]
        except TypeError as error:
            return str(error)
        return "spawned"


def _exact(text: str) -> str:
    return rf"^{re.escape(text)}$"


DURABLE_CLASS = (
    "mailbox must be a mailbox factory instance, got the class Durable: "
    "pass an instance, such as Durable()"
)


async def test_rt_spawn_refuses_the_durable_class_naming_the_instance_to_pass() -> None:
    """rt.spawn(..., mailbox=Durable) raises TypeError at once, and no actor is left."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(TypeError, match=_exact(DURABLE_CLASS)):
            await rt.spawn(Idle, name="idle", mailbox=Durable)  # type: ignore[arg-type]
        assert rt.lookup("idle") is None
        assert await (await rt.spawn(Idle, name="idle")).ask("still works") == "still works"


async def test_ctx_spawn_refuses_the_durable_class_naming_the_instance_to_pass() -> None:
    """ctx.spawn(..., mailbox=Durable) raises the same TypeError in the parent's handler."""
    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, name="parent")
        assert await parent.ask(SpawnChild(Durable)) == DURABLE_CLASS
        assert rt.find("/parent/child") is None


async def test_any_class_as_mailbox_is_refused_as_a_class() -> None:
    """A type object of any kind is a class, not a mailbox factory: pass an instance."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            TypeError,
            match=_exact(
                "mailbox must be a mailbox factory instance, got the class Idle: "
                "pass an instance, such as Durable()"
            ),
        ):
            await rt.spawn(Idle, mailbox=Idle)  # type: ignore[arg-type]


async def test_a_class_default_mailbox_that_is_a_class_is_refused_naming_the_attribute() -> None:
    """default_mailbox = Durable (the class) makes spawn raise a TypeError naming the attribute."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            TypeError,
            match=_exact(
                "DefaultsToTheClass.default_mailbox must be a mailbox factory instance, "
                "got the class Durable: pass an instance, such as Durable()"
            ),
        ):
            await rt.spawn(DefaultsToTheClass, name="defaults")
        assert rt.lookup("defaults") is None


def test_a_spec_whose_mailbox_is_the_durable_class_is_refused_when_made() -> None:
    """ChildSpec(mailbox=Durable) raises at once, with the same text (a ValueError, as every
    field of a spec)."""
    with pytest.raises(ValueError, match=_exact(DURABLE_CLASS)):
        trouper.ChildSpec("child", Idle, mailbox=Durable)


async def test_a_balancing_pool_refuses_the_durable_class_as_its_mailbox() -> None:
    """rt.spawn_pool(..., router=Balancing(), mailbox=Durable) raises the same TypeError."""
    from trouper.routing import Balancing

    async with trouper.open_runtime() as rt:
        with pytest.raises(TypeError, match=_exact(DURABLE_CLASS)):
            await rt.spawn_pool(
                Idle,
                2,
                router=Balancing(),
                name="jobs",
                mailbox=Durable,
            )
        assert rt.lookup("jobs") is None
