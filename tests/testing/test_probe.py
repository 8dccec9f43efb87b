"""TestProbe: expectations, their failure messages, replies, terminations."""

from __future__ import annotations

import attrs
import pytest
import trio

import trouper
from trouper import Actor, Terminated, handler
from trouper.testing import TestProbe


@attrs.frozen
class Greet:
    name: str
    reply_to: trouper.ActorRef[object]


@attrs.frozen
class Hello:
    text: str


class Greeter(Actor):
    @handler
    async def greet(self, msg: Greet) -> None:
        await msg.reply_to.tell(Hello(f"hello {msg.name}"))


class Asker(Actor):
    def __init__(self, oracle: trouper.ActorRef[object]) -> None:
        self.oracle = oracle

    @handler
    async def question(self, msg: str) -> object:
        return await self.oracle.ask(msg)


async def test_probe_records_what_an_actor_sends_it(runtime: trouper.Runtime, probe) -> None:  # type: ignore[no-untyped-def]
    """A probe given as a collaborator receives the actor's messages."""
    p = probe()
    greeter = await runtime.spawn(Greeter)
    await greeter.tell(Greet("ada", p))
    assert await p.expect(Hello) == Hello("hello ada")
    await greeter.tell(Greet("bob", p))
    assert await p.expect(Hello("hello bob")) == Hello("hello bob")
    await greeter.tell(Greet("cy", p))
    assert await p.expect(lambda m: isinstance(m, Hello) and m.text.endswith("cy"))
    assert len(p.history) == 3


async def test_failed_expectation_lists_what_arrived_with_times(runtime: trouper.Runtime) -> None:
    """A mismatch says what was expected and lists what arrived, with virtual times."""
    p = TestProbe(runtime, "client")
    await trio.sleep(2)
    await p.tell("not a hello")
    with pytest.raises(AssertionError) as info:
        await p.expect(Hello, within=1)
    assert str(info.value) == (
        "/probe/client expected a Hello within 1s (now t=2.0000); arrived instead:\n"
        "  t=2.0000 'not a hello'"
    )


async def test_expectation_times_out_on_virtual_time(runtime: trouper.Runtime, probe) -> None:  # type: ignore[no-untyped-def]
    """Nothing arriving within ``within`` fails after exactly that long."""
    p = probe("idle")
    start = trio.current_time()
    with pytest.raises(
        AssertionError, match=r"expected a Hello within 5s .*arrived instead:\n  nothing$"
    ):
        await p.expect(Hello, within=5)
    assert trio.current_time() - start == 5


async def test_expect_no_message(runtime: trouper.Runtime, probe) -> None:  # type: ignore[no-untyped-def]
    """``expect_no_message`` passes on silence and fails on a message, which stays."""
    p = probe()
    await p.expect_no_message(within=1)
    runtime_ref = await runtime.spawn(Greeter)
    await runtime_ref.tell(Greet("x", p))
    with pytest.raises(AssertionError, match=r"expected no message within 1s"):
        await p.expect_no_message(within=1)
    assert await p.expect(Hello) == Hello("hello x")


async def test_receive_n_and_fish_for(runtime: trouper.Runtime, probe) -> None:  # type: ignore[no-untyped-def]
    """``receive_n`` takes n in order; ``fish_for`` skips to the first match."""
    p = probe()
    for i in range(5):
        p.tell_nowait(i)
    assert await p.receive_n(2) == [0, 1]
    assert await p.fish_for(lambda m: m == 3) == 3
    assert await p.expect(4) == 4
    with pytest.raises(AssertionError, match=r"expected 2 messages within 1s"):
        await p.receive_n(2, within=1)


async def test_probe_replies_to_an_ask(runtime: trouper.Runtime, probe) -> None:  # type: ignore[no-untyped-def]
    """An ask sent to a probe waits until the test replies (or rejects)."""
    oracle = probe("oracle")
    asker = await runtime.spawn(Asker, oracle)
    async with trio.open_nursery() as nursery:
        answers: list[object] = []

        async def ask(question: str) -> None:
            try:
                answers.append(await asker.ask(question))
            except trouper.HandlerError as error:
                answers.append(type(error.__cause__).__name__)

        nursery.start_soon(ask, "meaning?")
        assert await oracle.expect("meaning?") == "meaning?"
        oracle.reply(42)
        with pytest.raises(RuntimeError, match=r"has taken no ask to reply to$"):
            oracle.reply(43)
    assert answers == [42]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, "doom?")
        await oracle.expect("doom?")
        oracle.reply_error(LookupError("no"))
    assert answers == [42, "LookupError"]


async def test_expect_terminated_watches_by_itself(runtime: trouper.Runtime, probe) -> None:  # type: ignore[no-untyped-def]
    """``expect_terminated`` sees a stop, with its reason, even of an actor already dead."""
    p = probe()
    greeter = await runtime.spawn(Greeter)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime.stop, greeter)
        terminated = await p.expect_terminated(greeter)
    assert terminated == Terminated(greeter, None)
    assert await p.expect_terminated(greeter) == Terminated(greeter, None)
