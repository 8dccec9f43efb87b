"""Review 24: timers and ``AioRuntime.ref`` refuse a remote ref of a runtime in another thread.

``send_later``, ``every`` and ``AioRuntime.ref`` refused a ref to a local
actor of a runtime in another thread (``lowlevel.check_reachable``), but took
a remote ref made there (``rt.remote(...)`` in that thread): its endpoint is
that runtime's node, whose NATS connection and outbox live in that thread's
Trio run, so the timer's tell failed the timer's actor when it fired (and
again after each restart), and the asyncio handle's every tell was refused as
it crossed. The endpoint now says which runtime it belongs to, and both are
refused when set, naming that runtime.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for
from remote_threads import refs_made_on_a, with_node_a_in_a_thread

import trouper
from trouper import Actor, ActorRef, handler
from trouper.aio import open_runtime as open_aio_runtime
from trouper.remote import Nats

pytestmark = pytest.mark.real_clock


class SetsTimers(Actor):
    """Sent a ref, sets ``send_later`` and ``every`` to it; replies with what each raised."""

    @handler
    async def set_timers(self, message: ActorRef) -> list[str]:  # type: ignore[type-arg]
        outcomes = []
        for set_timer in (self.ctx.send_later, self.ctx.every):
            try:
                set_timer(1, message, Note("tick"))
            except ValueError as error:
                outcomes.append(str(error))
            else:
                outcomes.append("accepted")
        return outcomes


def _refused(what: str, runtime: str, ref: ActorRef[object], remedy: str) -> str:
    return (
        f"{what} takes a ref to an actor that runtime {runtime!r} can tell; {ref!r} belongs "
        f"to another runtime (node 'a') in another thread{remedy}"
    )


def _timer_refused(what: str, ref: ActorRef[object]) -> str:
    return _refused(
        what, "b", ref, f", where the timer's tell could not reach it: {what} it from that runtime"
    )


def test_timers_refuse_a_remote_ref_of_a_runtime_in_another_thread(transport: Nats) -> None:
    """``ValueError`` naming the ref's runtime; nothing scheduled, the timer's actor runs on."""

    def check(refs: list[ActorRef[object]]) -> None:
        async def main() -> None:
            async with trouper.open_runtime(node="b") as b:
                setter = await b.spawn(SetsTimers, name="setter")
                for ref in refs:
                    assert await setter.ask(ref) == [
                        _timer_refused(what, ref) for what in ("send_later", "every")
                    ]
                info = b.tree().find("/setter")
                assert info is not None
                assert info.restart_count == 0

        trio.run(main)

    with_node_a_in_a_thread(transport, refs_made_on_a, check)


def test_aio_ref_refuses_a_remote_ref_of_a_runtime_in_another_thread(transport: Nats) -> None:
    """``AioRuntime.ref`` raises ``ValueError`` for it, naming the portal."""

    def check(refs: list[ActorRef[object]]) -> None:
        async def main() -> None:
            async with asyncio.timeout(20), open_aio_runtime(node="b") as rt:
                for ref in refs:
                    expected = _refused(
                        "ref", "b", ref, ": reach it through that runtime's portal (its rt.portal)"
                    )
                    with pytest.raises(ValueError, match=rf"^{re.escape(expected)}$"):
                        rt.ref(ref)

        asyncio.run(main())

    with_node_a_in_a_thread(transport, refs_made_on_a, check)


async def test_timers_take_a_remote_ref_of_a_runtime_beside_them(transport: Nats) -> None:
    """A remote ref of a runtime in the same Trio run is kept: the timer delivers through it."""
    seen: list[object] = []
    async with nodes(transport, "a", "c") as (a, c):
        await c.spawn(Notes, seen, name="sink")
        async with trouper.open_runtime(node="b") as b:
            setter = await b.spawn(SetsTimers)
            assert await setter.ask(a.remote("c", "sink")) == ["accepted", "accepted"]
            with trio.fail_after(20):
                await wait_for(lambda: len(seen) >= 3)
    assert seen[:3] == ["tick", "tick", "tick"]


class Watches(Actor):
    """Sent a ref, watches it; replies with what ``watch`` raised (or ``"watching"``)."""

    @handler
    async def watch_it(self, message: ActorRef) -> str:  # type: ignore[type-arg]
        try:
            self.ctx.watch(message)
        except ValueError as error:
            return str(error)
        return "watching"


def test_watch_refuses_a_remote_ref_of_a_runtime_in_another_thread(transport: Nats) -> None:
    """``ctx.watch`` raises the ``ValueError`` of a foreign ref (check_ref); nothing is recorded.

    It registered the watch in that runtime's node from this thread, queueing
    the request on its outbox and waking its Trio task from a foreign run.
    """

    def check(refs: list[ActorRef[object]]) -> None:
        async def main() -> None:
            async with trouper.open_runtime(node="b") as b:
                watcher = await b.spawn(Watches)
                for ref in refs:
                    assert await watcher.ask(ref) == (
                        f"watch takes a ref to an actor of runtime 'b'; {ref!r} belongs to "
                        "another runtime (node 'a'): watch it from that runtime (its portal, "
                        "from another thread)"
                    )

        trio.run(main)

    with_node_a_in_a_thread(transport, refs_made_on_a, check)
