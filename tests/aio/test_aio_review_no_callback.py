"""An endpoint that takes no callback ask says so with its own error, not any TypeError.

The asyncio bridge and a remote node ask a local endpoint by callback
(``ask_soon``) and fall back to an awaited ask only when the endpoint takes
no callback asks (a broadcast pool). A ``TypeError`` raised for another
reason inside ``ask_soon`` (here a consistent-hash pool's ``key``) is the
ask's answer: the ask is not made a second time.
"""

from __future__ import annotations

import functools

import attrs
import pytest
import trio
from aio_actors import run

import trouper
from trouper import Actor, handler
from trouper.aio import open_runtime
from trouper.remote import Nats, cluster_of
from trouper.routing import Broadcast, ConsistentHash
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@trouper.message("aio_review.no_callback.echo")
@attrs.frozen
class Echo(trouper.Request[str]):
    """Answered with its text."""

    text: str


class Echoer(Actor):
    """Answers an ``Echo`` with its text."""

    @handler
    async def echo(self, message: Echo) -> str:
        return message.text


class KeyOfNoType:
    """A hash pool's key function that raises (``TypeError`` by default), counting its calls."""

    def __init__(self, error: type[Exception] = TypeError) -> None:
        self.error = error
        self.calls = 0

    def __call__(self, message: object) -> object:
        self.calls += 1
        raise self.error("no key for this message")


def test_a_hash_key_raising_typeerror_fails_an_asyncio_ask_once() -> None:
    """From asyncio, the key's TypeError is the ask's answer; the key is called once."""
    key = KeyOfNoType()

    async def main() -> None:
        async with open_runtime() as rt:
            spawn = functools.partial(rt.runtime.spawn_pool, router=ConsistentHash(key=key))
            pool = rt.ref(await rt.run(spawn, Echoer, 2))
            with pytest.raises(TypeError, match=r"^no key for this message$"):
                await pool.ask(Echo("hi"))

    run(main)
    assert key.calls == 1


def test_a_broadcast_pool_answers_an_asyncio_ask() -> None:
    """From asyncio, a broadcast pool (no callback asks) is still asked, by a task."""

    async def main() -> object:
        async with open_runtime() as rt:
            spawn = functools.partial(rt.runtime.spawn_pool, router=Broadcast())
            pool = rt.ref(await rt.run(spawn, Echoer, 2))
            return await pool.ask(Echo("hi"))

    assert run(main) == ["hi", "hi"]


async def _ask_from_node_web(router: trouper.routing.Router) -> object:
    """Ask a pool of two ``Echoer`` on node "bank" from node "web"; the answer or error."""
    with NatsServer(jetstream=False) as server:
        transport = Nats(server.url, heartbeat=0.5)
        async with (
            trouper.open_runtime(node="bank", transport=transport) as bank,
            trouper.open_runtime(node="web", transport=transport) as web,
        ):
            await bank.spawn_pool(Echoer, 2, router=router, name="echoes")
            with trio.fail_after(10):
                while "bank" not in cluster_of(web).nodes():  # noqa: ASYNC110 - over the network
                    await trio.sleep(0.005)
                try:
                    return await web.remote("bank", "echoes").ask(Echo("hi"))
                except Exception as error:
                    return error


@pytest.mark.parametrize("error", [TypeError, ValueError])
def test_a_hash_key_raising_fails_a_remote_ask_once(error: type[Exception]) -> None:
    """From another node, the key's error answers the ask; the key is called once."""
    key = KeyOfNoType(error)
    answer = trio.run(_ask_from_node_web, ConsistentHash(key=key))
    assert isinstance(answer, Exception)
    assert "no key for this message" in str(answer)
    assert key.calls == 1


def test_a_broadcast_pool_answers_a_remote_ask() -> None:
    """From another node, a broadcast pool (no callback asks) is still asked, by a task."""
    assert trio.run(_ask_from_node_web, Broadcast()) == ["hi", "hi"]
