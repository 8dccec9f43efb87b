"""A message that arrives at the very instant a probe's wait ends arrived within it."""

from __future__ import annotations

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.testing import TestProbe


@attrs.frozen
class Hello:
    n: int


@attrs.frozen
class Relay:
    """Asks a forwarder to greet ``to``: the greeting takes several task steps."""

    to: trouper.ActorRef[object]
    n: int


class Forwarder(Actor):
    @handler
    async def relay(self, msg: Relay) -> None:
        await msg.to.tell(Hello(msg.n))


class Clock(Actor):
    def __init__(self, forwarder: trouper.ActorRef[object], to: trouper.ActorRef[object]) -> None:
        self.forwarder, self.to = forwarder, to

    async def on_start(self) -> None:
        self.ctx.send_later(1.0, self.forwarder, Relay(self.to, 1))
        self.ctx.send_later(1.0, self.forwarder, Relay(self.to, 2))


async def _clock_for(runtime: trouper.Runtime, probe: TestProbe) -> None:
    forwarder = await runtime.spawn(Forwarder)
    await runtime.spawn(Clock, forwarder, probe)


async def test_expect_takes_a_message_arriving_at_its_deadline(runtime: trouper.Runtime) -> None:
    """``expect(within=1)`` takes what arrives exactly 1 s later, at the deadline."""
    p = TestProbe(runtime)
    await _clock_for(runtime, p)
    assert await p.expect(Hello, within=1) in (Hello(1), Hello(2))
    assert trio.current_time() == 1.0


async def test_receive_n_takes_messages_arriving_at_its_deadline(runtime: trouper.Runtime) -> None:
    """``receive_n`` takes every message of its deadline's instant."""
    p = TestProbe(runtime)
    await _clock_for(runtime, p)
    assert sorted(await p.receive_n(2, within=1), key=repr) == [Hello(1), Hello(2)]
    assert trio.current_time() == 1.0


async def test_fish_for_finds_a_message_arriving_at_its_deadline(runtime: trouper.Runtime) -> None:
    """``fish_for`` sees the messages of its deadline's instant."""
    p = TestProbe(runtime)
    await _clock_for(runtime, p)
    assert await p.fish_for(Hello(2), within=1) == Hello(2)


async def test_expect_no_message_fails_on_one_arriving_at_its_deadline(
    runtime: trouper.Runtime,
) -> None:
    """``expect_no_message(within=1)`` fails on a message arriving exactly 1 s later."""
    p = TestProbe(runtime)
    await _clock_for(runtime, p)
    with pytest.raises(AssertionError, match=r"expected no message within 1s \(now t=1\.0000\)"):
        await p.expect_no_message(within=1)
    assert sorted(await p.receive_n(2, within=0), key=repr) == [Hello(1), Hello(2)]


async def test_a_message_after_the_deadline_is_not_taken(runtime: trouper.Runtime) -> None:
    """What arrives after the deadline's instant still fails the expectation, listed nowhere."""
    p = TestProbe(runtime)
    await _clock_for(runtime, p)
    with pytest.raises(AssertionError, match=r"within 0\.5s \(now t=0\.5000\).*\n  nothing$"):
        await p.expect(Hello, within=0.5)
    assert await p.expect(Hello, within=0.5) in (Hello(1), Hello(2))


async def test_a_task_that_never_waits_does_not_hang_a_wait_at_its_deadline(
    runtime: trouper.Runtime,
) -> None:
    """Beside a task looping on checkpoints, ``expect_no_message(within=0)`` still returns."""
    p = TestProbe(runtime)

    async def spin() -> None:
        while True:
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(spin)
        await p.expect_no_message(within=0)
        await p.tell(Hello(3))
        with pytest.raises(AssertionError, match=r"expected no message within 0s"):
            await p.expect_no_message(within=0)
        nursery.cancel_scope.cancel()
