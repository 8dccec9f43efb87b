"""Review 17: a ref of another runtime is refused by every operation that acts on its actor.

``tell`` and ``ask`` across runtimes are messages and work (from the right
thread); ``stop``, ``restart``, ``watch``, ``unwatch``, ``link`` and ``unlink``
act on the actor's cell, which belongs to its own runtime (and, in another
thread, to another Trio run): each raises ``ValueError`` (as
``topics.subscribe`` does for such a subscriber) and leaves that actor alone.
"""

from __future__ import annotations

import queue
import threading

import pytest
import trio

import trouper
from trouper import Actor, ActorRef, handler

OTHER = r"belongs to another runtime \(node 'b'\)"


class Echo(Actor):
    """Answers a string with itself."""

    @handler
    async def echo(self, message: str) -> str:
        return message


class Binder(Actor):
    """Tries each bond with the ref it is sent; replies with what each raised."""

    @handler
    async def bind(self, message: ActorRef) -> list[str]:  # type: ignore[type-arg]
        outcomes = []
        for call in (self.ctx.watch, self.ctx.unwatch, self.ctx.link, self.ctx.unlink):
            try:
                call(message)
            except ValueError as error:
                outcomes.append(str(error))
            else:
                outcomes.append("accepted")
        return outcomes


async def test_stop_and_restart_refuse_a_ref_of_another_runtime_in_the_same_run() -> None:
    """``a.stop(b_ref)`` raises ``ValueError`` naming the other runtime; ``b``'s actor runs on."""
    async with trouper.open_runtime(node="a") as a, trouper.open_runtime(node="b") as b:
        ref = await b.spawn(Echo, name="echo")
        with pytest.raises(
            ValueError, match=rf"^stop takes a ref to an actor of runtime 'a'; .*{OTHER}"
        ):
            await a.stop(ref)
        with pytest.raises(
            ValueError, match=rf"^restart takes a ref to an actor of runtime 'a'; .*{OTHER}"
        ):
            await a.restart(ref)
        assert await ref.ask("still here") == "still here"
        assert b.tree().find("/echo") is not None
        assert b.tree().find("/echo").restart_count == 0  # type: ignore[union-attr]


async def test_watch_and_link_refuse_a_ref_of_another_runtime_in_the_same_run() -> None:
    """An actor of ``a`` cannot watch, unwatch, link or unlink an actor of ``b``."""
    async with trouper.open_runtime(node="a") as a, trouper.open_runtime(node="b") as b:
        echo = await b.spawn(Echo, name="echo")
        binder = await a.spawn(Binder)
        outcomes = await binder.ask(echo)
        assert isinstance(outcomes, list)
        assert [o.split(";")[0] for o in outcomes] == [
            f"{what} takes a ref to an actor of runtime 'a'"
            for what in ("watch", "unwatch", "link", "unlink")
        ]
        assert all(" belongs to another runtime (node 'b')" in o for o in outcomes)
        await b.stop(echo)  # nothing of a watches or is linked to it: a runs on
        assert await binder.ask(binder) == ["accepted"] * 4  # (its own ref: no-ops)


@pytest.mark.real_clock
async def test_stop_refuses_a_ref_of_a_runtime_in_another_thread() -> None:
    """Refused before anything touches the other thread's actor: it answers, its runtime ends."""
    refs: queue.Queue[ActorRef[object]] = queue.Queue()
    release = threading.Event()
    answers: list[object] = []
    times: list[float] = []

    async def other_side() -> None:
        async with trouper.open_runtime(node="b", shutdown_timeout=30) as b:
            ref = await b.spawn(Echo)
            refs.put(ref)
            await trio.to_thread.run_sync(release.wait, 10)
            answers.append(await ref.ask("still here"))
            times.append(trio.current_time())
        times.append(trio.current_time())

    thread = threading.Thread(target=trio.run, args=(other_side,))
    thread.start()
    try:
        ref = await trio.to_thread.run_sync(refs.get, True, 10)
        async with trouper.open_runtime(node="a") as a:
            with pytest.raises(
                ValueError, match=rf"^stop takes a ref to an actor of runtime 'a'; .*{OTHER}"
            ):
                await a.stop(ref)
    finally:
        release.set()
        await trio.to_thread.run_sync(thread.join, 10)
    assert not thread.is_alive()
    assert answers == ["still here"]
    before_close, after_close = times
    assert after_close - before_close < 5  # its shutdown was not held to its deadline
