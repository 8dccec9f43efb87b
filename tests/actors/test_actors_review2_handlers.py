"""Handler tables across inheritance: mixins, overrides, and handlers under another name."""

from __future__ import annotations

import re

import attrs
import pytest

import trouper
from trouper import Actor, handler


@attrs.frozen
class Ping:
    """A message."""


@attrs.frozen
class Pong:
    """Another message."""


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


def _qualname(actor_class: type[Actor], message_type: type) -> str | None:
    found = actor_class.handler_for(message_type)
    return None if found is None else found.__qualname__


async def _ping(self: Actor, message: Ping) -> str:
    return "pinged"


class Shared(Actor):
    """Binds a module-level function as a handler under a name of its own."""

    on_ping = handler(_ping)


class Pinger:
    """A mixin that is not an Actor, with a handler its actors should gain."""

    @handler
    async def ping(self, message: Ping) -> str:
        return "mixin"


class Base(Actor):
    """Handles Ping with ``on``."""

    @handler
    async def on(self, message: Ping) -> str:
        return "base"


def test_a_handler_bound_under_another_name_is_inherited() -> None:
    """A subclass keeps a handler whose attribute name is not its function's ``__name__``."""

    class Child(Shared):
        pass

    assert _qualname(Shared, Ping) == "_ping"
    assert _qualname(Child, Ping) == "_ping"


async def test_a_mixins_handler_takes_its_messages() -> None:
    """A ``@handler`` defined on a mixin that is not an Actor is in the actor's table."""

    class Mixed(Pinger, Actor):
        pass

    assert _qualname(Mixed, Ping) == "Pinger.ping"
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Mixed)
        assert await ref.ask(Ping()) == "mixin"


def test_a_sync_override_of_a_handler_is_refused() -> None:
    """Overriding a handler with a plain ``def`` raises TypeError instead of dropping it."""
    with pytest.raises(
        TypeError,
        match=exactly(
            "Child.on overrides a handler (for Ping) but is not an async def: "
            "make it async, or set it to None to drop the handler"
        ),
    ):

        class Child(Base):
            def on(self, message: Ping) -> str:  # type: ignore[override]
                return "sync"


def test_a_handler_redefined_for_another_type_handles_only_that_type() -> None:
    """A ``@handler`` override restates what it handles: the base's type does not reach it."""

    class Child(Base):
        @handler
        async def on(self, message: Pong) -> str:  # type: ignore[override]
            return "pong"

    assert _qualname(Child, Pong) == (
        "test_a_handler_redefined_for_another_type_handles_only_that_type.<locals>.Child.on"
    )
    assert Child.handler_for(Ping) is None


def test_an_unmarked_override_keeps_the_types_of_the_handler_it_overrides() -> None:
    """Overriding by name without ``@handler`` still takes the base's message types."""

    class Child(Base):
        async def on(self, message: Ping) -> str:
            return "child"

    assert Child.handler_for(Ping) is Child.on


def test_a_static_method_marked_as_handler_is_refused() -> None:
    """A handler takes ``self``: ``@staticmethod`` over ``@handler`` raises TypeError."""
    with pytest.raises(
        TypeError,
        match=exactly(
            "Static.on is marked @handler but is a staticmethod: a handler is an "
            "async method taking self and the message"
        ),
    ):

        class Static(Actor):
            @staticmethod
            @handler
            async def on(message: Ping) -> None:
                pass


@pytest.mark.parametrize("hook", ["on_start", "on_stop", "on_restart"])
def test_a_lifecycle_hook_that_is_not_async_is_refused(hook: str) -> None:
    """A sync ``on_start``/``on_stop``/``on_restart`` raises TypeError when the class is made."""
    namespace: dict[str, object] = {"Actor": Actor}
    parameters = "self, error" if hook == "on_restart" else "self"
    source = f"class Hooked(Actor):\n    def {hook}({parameters}):\n        pass\n"
    with pytest.raises(TypeError, match=exactly(f"Hooked.{hook} must be an async def")):
        exec(source, namespace)
