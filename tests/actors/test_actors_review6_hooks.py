"""Lifecycle hooks and ``receive`` are checked when the class is made, wherever they come from."""

from __future__ import annotations

import re

import pytest

from trouper import Actor


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


class SyncStart:
    """A mixin (not an actor) whose ``on_start`` is a plain def."""

    def on_start(self) -> None:
        pass


class SyncReceive:
    """A mixin (not an actor) whose ``receive`` is a plain def."""

    def receive(self, message: object) -> None:
        pass


def test_a_sync_hook_inherited_from_a_mixin_is_refused() -> None:
    """A plain-def ``on_start`` from a non-actor mixin raises TypeError when the class is made."""
    with pytest.raises(
        TypeError,
        match=exactly("Mixed.on_start must be an async def (it is inherited from SyncStart)"),
    ):

        class Mixed(SyncStart, Actor):  # type: ignore[misc]  # the mistake under test
            pass


def test_a_sync_receive_inherited_from_a_mixin_is_refused() -> None:
    """A plain-def ``receive`` from a non-actor mixin raises TypeError when the class is made."""
    with pytest.raises(
        TypeError,
        match=exactly("Mixed.receive must be an async def (it is inherited from SyncReceive)"),
    ):

        class Mixed(SyncReceive, Actor):
            pass


@pytest.mark.parametrize("hook", ["on_start", "on_stop", "on_restart"])
def test_a_lifecycle_hook_set_to_none_is_refused(hook: str) -> None:
    """``on_stop = None`` would fail only when the actor runs: it is refused up front."""
    with pytest.raises(TypeError, match=exactly(f"Hooked.{hook} must be an async def")):
        type("Hooked", (Actor,), {hook: None})


def test_receive_set_to_none_drops_an_inherited_receive() -> None:
    """``receive = None`` is allowed: the subclass takes no unhandled messages."""

    class Base(Actor):
        async def receive(self, message: object) -> None:
            pass

    class Strict(Base):
        receive = None  # type: ignore[assignment]

    assert Base.handles(int)
    assert not Strict.handles(int)
