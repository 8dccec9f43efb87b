"""Review fix: the engine lets go of a failed handler's locals once the failure is reported."""

from __future__ import annotations

import contextlib
import gc
import traceback
import weakref

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, Directive, OneForOne, Restart, Terminated, handler


class Big:
    """Stands for a large object a handler holds in a local variable."""


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Ping:
    pass


class Crasher(Actor):
    """``Crash`` raises with a ``Big`` in its locals; weakrefs to it and to the instance go
    to ``kept``."""

    def __init__(self, kept: list[weakref.ref[object]]) -> None:
        self.kept = kept

    @handler
    async def crash(self, message: Crash) -> None:
        big = Big()
        self.kept.extend((weakref.ref(big), weakref.ref(self)))
        raise ValueError("boom")

    @handler
    async def ping(self, message: Ping) -> str:
        return "pong"


def collected(kept: list[weakref.ref[object]]) -> bool:
    gc.collect()
    return all(ref() is None for ref in kept)


async def test_a_restarted_actor_does_not_keep_its_failed_handlers_locals() -> None:
    """After a restart the failed instance and its handler's locals are freed; the error stays."""
    kept: list[weakref.ref[object]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Crasher, kept, name="crasher")
        await ref.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Ping()) == "pong"
        assert collected(kept)
        letter = rt.dead_letters.recent[-1]
        assert isinstance(letter.error, ValueError)
        assert str(letter.error) == "boom"
        text = "".join(traceback.format_exception(letter.error))
        assert 'raise ValueError("boom")' in text


async def test_a_resumed_actor_does_not_keep_its_failed_handlers_locals() -> None:
    """A failure the strategy resumes is released too."""
    kept: list[weakref.ref[object]] = []
    strategy = OneForOne(directives={ValueError: Directive.RESUME})
    async with trouper.open_runtime(root_strategy=strategy) as rt:
        ref = await rt.spawn(Crasher, kept)
        await ref.tell(Crash())
        assert await ref.ask(Ping()) == "pong"
        assert collected(kept[:1])  # (the instance itself goes on)


async def test_a_stopped_actor_does_not_keep_its_failed_handlers_locals() -> None:
    """A ref to an actor that stopped with an error frees that error's locals once reported."""
    kept: list[weakref.ref[object]] = []
    terminated: list[Terminated] = []

    class Watcher(Actor):
        def __init__(self, target: trouper.ActorRef[object]) -> None:
            self.target = target

        async def on_start(self) -> None:
            self.ctx.watch(self.target)

        @handler
        async def on_terminated(self, message: Terminated) -> None:
            terminated.append(message)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Crasher, kept, restart=Restart.TEMPORARY)
        await rt.spawn(Watcher, ref)
        await ref.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert len(terminated) == 1
        assert isinstance(terminated[0].reason, ValueError)
        assert terminated[0].reason is rt.dead_letters.recent[-1].error
        assert collected(kept)
        del ref


@attrs.frozen
class FailWith:
    error: BaseException


@attrs.frozen
class Relay:
    target: trouper.ActorRef[object]


class Chained(Actor):
    """Fails with the error it is given as ``__cause__``."""

    @handler
    async def fail_with(self, message: FailWith) -> None:
        raise RuntimeError("chained") from message.error


class Catcher(Actor):
    """Catches an error and, still inside its handler, has another actor fail with it."""

    @handler
    async def relay(self, message: Relay) -> str:
        try:
            raise KeyError("caught")
        except KeyError as error:
            with contextlib.suppress(trouper.HandlerError):
                await message.target.ask(FailWith(error))
            await trio.sleep(1)  # suspended while the other actor's failure is released
        return "finished"


async def test_releasing_a_failure_leaves_a_handler_that_still_runs_alone() -> None:
    """A frame in the failure's chain that has not finished (a handler awaiting) is untouched."""
    async with trouper.open_runtime() as rt:
        chained = await rt.spawn(Chained)
        catcher = await rt.spawn(Catcher)
        assert await catcher.ask(Relay(chained)) == "finished"
        assert trio.current_time() == 1


async def test_a_failure_that_fails_the_runtime_keeps_its_locals_for_debugging() -> None:
    """An error escalated out of ``open_runtime`` keeps its handler's locals (post-mortem)."""
    kept: list[weakref.ref[object]] = []
    strategy = OneForOne(directives={ValueError: Directive.ESCALATE})

    async def scenario() -> None:
        async with trouper.open_runtime(root_strategy=strategy) as rt:
            ref = await rt.spawn(Crasher, kept, name="crasher")
            await ref.tell(Crash())
            await trio.sleep_forever()

    try:
        await scenario()
    except trouper.ChildFailed as failed:
        error = failed.__cause__
    assert isinstance(error, ValueError)
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    (crash_frame,) = [frame for frame in frames if frame.f_code.co_name == "crash"]
    assert isinstance(crash_frame.f_locals["big"], Big)
