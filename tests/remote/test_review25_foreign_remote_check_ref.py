"""Review 25: what acts on an actor refuses a remote ref made by a runtime in another thread.

``ctx.watch``, ``ctx.unwatch``, ``ctx.link``, ``rt.stop`` and ``rt.restart``
raise ``ValueError`` for a ref to a local actor of another runtime
(``check_ref``), but let a remote ref made by a runtime in another thread
through: its endpoint is that runtime's node, whose connection and state live
in that thread's Trio run. ``watch`` and ``unwatch`` then got as far as that
endpoint's own thread check (a ``RuntimeError`` about a foreign Trio run), and
``stop``, ``restart`` and ``link`` said the ref was not of this process. They
now raise the same ``ValueError`` as for a local actor of another runtime,
naming the runtime the ref belongs to; a remote ref made by a runtime beside
them in the same Trio run still passes (``watch`` through it works).
"""

from __future__ import annotations

import re

import attrs
import pytest
import trio
from remote_support import Notes, nodes
from remote_threads import refs_made_on_a, with_node_a_in_a_thread

import trouper
from trouper import Actor, ActorRef, Terminated, handler
from trouper.remote import Nats

pytestmark = pytest.mark.real_clock


@attrs.frozen
class Try:
    """Asks the receiver to apply ``what`` to ``ref``."""

    what: str
    ref: ActorRef[object]


@attrs.frozen
class Terminations:
    """Asks which refs the receiver heard the ``Terminated`` of."""


class Applies(Actor):
    """Applies a context operation to a ref; replies with what it raised (or ``"accepted"``)."""

    def __init__(self, heard: trio.Event | None = None) -> None:
        self.heard = heard
        self.terminated: list[ActorRef[object]] = []

    @handler
    async def apply(self, message: Try) -> str:
        try:
            getattr(self.ctx, message.what)(message.ref)
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "accepted"

    @handler
    async def on_terminated(self, message: Terminated) -> None:
        self.terminated.append(message.ref)
        if self.heard is not None:
            self.heard.set()

    @handler
    async def terminations(self, message: Terminations) -> list[ActorRef[object]]:
        return list(self.terminated)


def _refused(what: str, ref: ActorRef[object]) -> str:
    return (
        f"ValueError: {what} takes a ref to an actor of runtime 'b'; {ref!r} belongs to another "
        f"runtime (node 'a'): {what} it from that runtime (its portal, from another thread)"
    )


def test_context_operations_refuse_a_remote_ref_of_a_runtime_in_another_thread(
    transport: Nats,
) -> None:
    """watch, unwatch and link raise the ValueError of a foreign ref; nothing is recorded."""

    def check(refs: list[ActorRef[object]]) -> None:
        async def main() -> None:
            async with trouper.open_runtime(node="b") as b:
                actor = await b.spawn(Applies)
                for ref in refs:
                    for what in ("watch", "unwatch", "link"):
                        assert await actor.ask(Try(what, ref)) == _refused(what, ref)
                info = b.tree().find(actor.address.path)
                assert info is not None
                assert info.restart_count == 0

        trio.run(main)

    with_node_a_in_a_thread(transport, refs_made_on_a, check)


def test_stop_and_restart_refuse_a_remote_ref_of_a_runtime_in_another_thread(
    transport: Nats,
) -> None:
    """rt.stop and rt.restart raise the same ValueError (they said: not of this process)."""

    def check(refs: list[ActorRef[object]]) -> None:
        async def main() -> None:
            async with trouper.open_runtime(node="b") as b:
                for ref in refs:
                    for what in ("stop", "restart"):
                        expected = _refused(what, ref).removeprefix("ValueError: ")
                        with pytest.raises(ValueError, match=rf"^{re.escape(expected)}$"):
                            await getattr(b, what)(ref)

        trio.run(main)

    with_node_a_in_a_thread(transport, refs_made_on_a, check)


async def test_watch_takes_a_remote_ref_of_a_runtime_beside_it(transport: Nats) -> None:
    """A remote ref made by a runtime in the same Trio run still passes: its watch works."""
    seen: list[object] = []
    async with nodes(transport, "a", "c") as (a, c):
        sink = await c.spawn(Notes, seen, name="sink")
        async with trouper.open_runtime(node="b") as b:
            heard = trio.Event()
            actor = await b.spawn(Applies, heard)
            remote = a.remote("c", "sink")
            assert await actor.ask(Try("watch", remote)) == "accepted"
            await c.stop(sink)
            with trio.fail_after(20):
                await heard.wait()
            assert await actor.ask(Terminations()) == [remote]
