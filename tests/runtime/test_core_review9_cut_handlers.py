"""Review 9: a handler a restart or a stop cuts off is reported finished, once, with what cut it."""

from __future__ import annotations

from collections.abc import Awaitable

import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import ActorStopped
from trouper.runtime.lowlevel import Cell, Command, HandlerOutcome, Instrument


class Stuck(Actor):
    """Never finishes handling ``"stuck"``; answers anything else at once."""

    @handler
    async def wait(self, message: str) -> str:
        if message == "stuck":
            await trio.sleep_forever()
        return message


class Ends(Instrument):
    """Records each handler's start and end, with how it ended."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        self.calls.append(("started", message))

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        self.calls.append(("finished", message, type(outcome.error), outcome.cut_by))


async def _handling(rt: trouper.Runtime, message: str) -> trouper.ActorRef[object]:
    """A ``Stuck`` actor (a shutdown second) told ``message``, once it has settled."""
    ref = await rt.spawn(Stuck, name="stuck", shutdown=1.0)
    await ref.tell(message)
    await trio.testing.wait_all_tasks_blocked()
    return ref


async def test_a_handler_cut_off_by_a_restart_is_finished_once_cut_by_terminate() -> None:
    """The restart's end of the instance is what cut it; the new instance's handler is plain."""
    ends = Ends()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(ends)
        ref = await _handling(rt, "stuck")
        start = trio.current_time()
        await rt.restart(ref)
        assert trio.current_time() == start + 1.0  # the handler had its shutdown second
        assert await ref.ask("next") == "next"
        assert ends.calls == [
            ("started", "stuck"),
            ("finished", "stuck", ActorStopped, Command.TERMINATE),
            ("started", "next"),
            ("finished", "next", type(None), None),
        ]


async def test_a_handler_cut_off_by_a_stop_is_finished_once_cut_by_stop() -> None:
    """A stop whose deadline passes mid-handler reports the handler finished before the stop."""
    ends = Ends()
    stopped: list[str] = []

    class Stops(Instrument):
        def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
            stopped.append(actor.address.path)
            ends.calls.append(("stopped",))

    async with trouper.open_runtime() as rt:
        rt.instruments.add(ends)
        rt.instruments.add(Stops())
        ref = await _handling(rt, "stuck")
        await rt.stop(ref)
        assert ends.calls == [
            ("started", "stuck"),
            ("finished", "stuck", ActorStopped, Command.STOP),
            ("stopped",),
        ]


async def test_a_handler_cut_off_by_the_runtime_closing_is_finished_once() -> None:
    """Closing the runtime stops the actor mid-handler: one end, cut by the stop."""
    ends = Ends()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(ends)
        await _handling(rt, "stuck")
    assert ends.calls == [
        ("started", "stuck"),
        ("finished", "stuck", ActorStopped, Command.STOP),
    ]


async def test_a_paused_handler_cut_off_by_a_restart_is_finished_once() -> None:
    """A ``handler_started`` pause the restart cancels ends the handler too (it never ran)."""

    class Pauses(Ends):
        def handler_started(  # type: ignore[override]
            self, actor: Cell, message: object, context: object
        ) -> Awaitable[None] | None:
            super().handler_started(actor, message, context)
            return self.pause() if message == "pause" else None

        async def pause(self) -> None:
            await trio.sleep_forever()

    ends = Pauses()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(ends)
        ref = await _handling(rt, "pause")
        await rt.restart(ref)
        await trio.testing.wait_all_tasks_blocked()
        assert ends.calls == [
            ("started", "pause"),
            ("finished", "pause", ActorStopped, Command.TERMINATE),
        ]


def test_an_outcome_says_what_cut_its_handler_off() -> None:
    """``cut_by`` is ``None`` for a handler that returned or raised; outcomes compare by it."""
    assert HandlerOutcome(None, 1).cut_by is None
    error = ActorStopped(trouper.Address("n", "/a"))
    cut = HandlerOutcome(error, cut_by=Command.STOP)
    assert (cut.ok, cut.cut_by) == (False, Command.STOP)
    assert cut != HandlerOutcome(error)
    assert cut == HandlerOutcome(error, cut_by=Command.STOP)


def test_equal_outcomes_hash_alike() -> None:
    """Outcomes equal by value (two equal replies) have one hash, as a set or dict needs."""
    first, second = HandlerOutcome(None, [1, 2]), HandlerOutcome(None, [1, 2])
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
