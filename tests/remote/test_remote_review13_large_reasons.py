"""A stop reason or handler error too large for one NATS message still reaches the other node.

Errors cross as data; one whose arguments (or text) ran past the server's
``max_payload`` made the ``terminated`` notice (and a watch's answer) too
large to publish: it was dropped, and the watcher on the other node never
heard that the actor stopped. An ask got a ``MaxPayloadExceeded`` in place
of the handler's error.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Explode, Watched, nodes, stop_watched, wait_for, watch_from

from trouper import Actor, handler
from trouper.errors import HandlerError, RemoteError
from trouper.remote import Nats

pytestmark = pytest.mark.real_clock

HUGE = 2 * 1024 * 1024
"""Characters of the error's text: twice the test server's ``max_payload`` (1 MiB)."""


class Bomb(Actor):
    """Raises a ``ValueError`` whose text is ``HUGE`` characters of the message's text."""

    @handler
    async def explode(self, message: Explode) -> None:
        raise ValueError(message.text * (HUGE // len(message.text)))


async def test_an_actor_stopped_by_a_huge_error_is_reported_to_a_watcher_on_another_node(
    transport: Nats,
) -> None:
    """The watcher gets ``Terminated`` with the error, its text cut; nothing is dropped."""
    seen: list[object] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        with trio.fail_after(10):
            await stop_watched(web, bank, Bomb, "bomb", seen)
    assert seen == [Watched("/bomb", "bank", "RemoteError")]


async def test_a_watch_of_an_actor_that_stopped_by_a_huge_error_gets_its_reason(
    transport: Nats,
) -> None:
    """The watch's answer ("gone", with the remembered reason) fits in one message too."""
    seen: list[object] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        with trio.fail_after(10):
            bomb = await stop_watched(web, bank, Bomb, "bomb", seen)
            await watch_from(web, bank, bomb, seen)  # a watch of an actor gone
            await wait_for(lambda: len(seen) == 2)
    assert seen == [Watched("/bomb", "bank", "RemoteError")] * 2


async def test_an_ask_whose_handler_raised_a_huge_error_gets_the_handler_error(
    transport: Nats,
) -> None:
    """``HandlerError``: the remote error's type, its text cut; no ``MaxPayloadExceeded``."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Bomb, name="bomb")
        with trio.fail_after(10), pytest.raises(HandlerError) as caught:
            await web.remote("bank", "bomb").ask(Explode("z"))
    remote = caught.value.remote
    assert isinstance(remote, RemoteError)
    assert remote.type_name == "ValueError"
    assert remote.message.startswith("zzz")
    assert len(remote.message) < 20_000
