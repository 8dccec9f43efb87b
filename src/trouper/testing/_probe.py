"""``TestProbe``: a ref that records what it receives, for assertions (Akka's TestKit probe).

A probe is an ``ActorRef``: give it to the actors under test as a
collaborator. What arrives is kept, in order, with the virtual time it
arrived; ``expect`` and friends take messages from the front and fail with
an ``AssertionError`` that says what was expected and lists what arrived
instead. A probe has no task of its own: an ask sent to it waits until the
test answers it with ``reply``.

``within=`` takes seconds: test expectations read better with a number than
with a cancel scope around each line, and every wait is on virtual time.
"""

from __future__ import annotations

import itertools
import types
import typing
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs
import outcome
import trio
import trio.testing
from trio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
)

from trouper._validate import check_name, check_seconds
from trouper.actors import ActorRef, Address, Terminated
from trouper.runtime import Runtime
from trouper.testing._simulation import _simulation_of
from trouper.testing._virtual_time import settle

__all__ = ["Received", "TestProbe"]

DEFAULT_WITHIN = 3.0
_names: weakref.WeakKeyDictionary[Runtime, set[str]] = weakref.WeakKeyDictionary()
"""The names of each runtime's probes. Unnamed probes are numbered per runtime, so that a
simulation's probes have the same paths in every run of a seed, whatever ran before in the
process; no two probes of a runtime share a path (they would be equal refs)."""

Matcher = type | Callable[[object], bool] | object
"""What ``expect`` and ``fish_for`` match a message against: a class or a union of classes
(by ``isinstance``), a predicate (by what it returns), any other value (by equality)."""


@attrs.define(eq=False)
class Received:
    """One message a probe received: when, what, and (for an ask) how to answer it."""

    time: float
    """Trio's clock when it arrived."""
    message: object
    """The message."""
    _reply_to: Task | None = None
    # The asker's task while it waits for the answer; None once answered or given up
    # (and for a tell).
    _ask: bool = attrs.field(init=False)
    # Whether it came as an ask, whatever became of its asker since: a reply to an ask
    # its asker gave up answers nobody, and not an earlier ask.
    _abandoned: bool = False
    # Whether the asker gave up waiting (its deadline, a cancellation) before a reply.

    def __attrs_post_init__(self) -> None:
        self._ask = self._reply_to is not None

    @property
    def is_ask(self) -> bool:
        """Whether it was sent as an ask (also once its asker gave up waiting)."""
        return self._ask

    def __str__(self) -> str:
        return f"t={self.time:.4f} {'ask ' if self.is_ask else ''}{self.message!r}"


class _ProbeEndpoint:
    """Delivers a probe's messages straight into its inbox."""

    def __init__(self, probe: TestProbe) -> None:
        self.probe = probe

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        """Record ``message`` (a probe's mailbox never fills)."""
        await checkpoint_if_cancelled()
        self.probe._arrive(Received(trio.current_time(), message))
        # Arrived: a cancellation now would make the sender think it was lost (and send
        # it again). A tell to an actor's mailbox ends the same way.
        await cancel_shielded_checkpoint()
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        """Record ``message`` now."""
        self.probe._arrive(Received(trio.current_time(), message))
        return True

    def watch(self, watcher: object) -> None:
        """A probe is not an actor: it never stops, so it cannot be watched."""
        raise TypeError(f"{self.probe!r} is a test probe, not an actor: it cannot be watched")

    def unwatch(self, watcher: object) -> None:
        """Nothing to undo (a probe cannot be watched)."""

    async def ask(self, message: object) -> object:
        """Record an ask; it waits until the test answers it (``reply``)."""
        await checkpoint_if_cancelled()
        received = Received(trio.current_time(), message, current_task())

        def abort(_: object) -> Abort:
            received._reply_to = None
            received._abandoned = True
            return Abort.SUCCEEDED

        self.probe._arrive(received)
        sim = _simulation_of(self.probe._runtime)
        if sim is None:
            return await trio.lowlevel.wait_task_rescheduled(abort)
        # No cell's hook sees an ask to a probe: noted here, so that a deadlock or
        # max_time report names the asker that waits for the test's reply.
        token = sim.wait_begins(f"an answer from {self.probe.address.path} to {message!r}")
        try:
            return await trio.lowlevel.wait_task_rescheduled(abort)
        finally:
            sim.wait_ends(token)


def _deadline(within: float) -> float:
    """The virtual instant ``within`` seconds from now (``within`` checked first)."""
    return trio.current_time() + check_seconds("within", within)


def _time_is_virtual() -> bool:
    """Whether Trio's clock only moves when every task waits (or when jumped by hand)."""
    clock = trio.lowlevel.current_clock()
    return isinstance(clock, trio.testing.MockClock) and clock.rate == 0


def _is_union(matcher: Matcher) -> bool:
    """Whether ``matcher`` is a union of types (``A | B``, ``Union[A, B]``, ``Optional[A]``).

    A union alias names an actor's protocol; it is neither a type nor a predicate
    (``typing.Union`` is callable, and calling it raises).
    """
    return isinstance(matcher, types.UnionType) or typing.get_origin(matcher) is typing.Union


def _check_matcher(method: str, matcher: Matcher) -> None:
    """Refuse a parameterized generic (``list[int]``, ``Box[int]``), also as a union member.

    Such a matcher is callable, so it would be taken for a predicate: calling it
    builds a value of the message (``list[int]("ab")``), which is truthy, and a
    message of another type would match.

    Raises:
        TypeError: ``matcher`` is one, or a union holds one.
    """
    for member in typing.get_args(matcher) if _is_union(matcher) else (matcher,):
        origin = typing.get_origin(member)
        if origin is None:
            continue
        instead = f"expect {origin.__qualname__}, or " if isinstance(origin, type) else ""
        raise TypeError(
            f"{method}({matcher!r}): {member!r} is a parameterized generic, which cannot be "
            f"matched (isinstance cannot check its parameters): {instead}pass a predicate"
        )


def _describe(matcher: Matcher) -> str:
    if isinstance(matcher, type):
        return f"a {matcher.__qualname__}"
    if _is_union(matcher):
        return " or ".join(
            "None" if member is type(None) else _describe(member)
            for member in typing.get_args(matcher)
        )
    if callable(matcher):
        return f"a message matching {getattr(matcher, '__name__', repr(matcher))}"
    return repr(matcher)


def _matches(matcher: Matcher, message: object) -> bool:
    if isinstance(matcher, type) or _is_union(matcher):
        return isinstance(message, matcher)  # type: ignore[arg-type]
    if callable(matcher):
        return bool(matcher(message))
    return message == matcher


class TestProbe(ActorRef[object]):
    """A ref that records the messages it receives; assertions take them in order.

    Made with ``TestProbe(runtime)`` or the ``probe`` fixture. Not thread-safe;
    use it from the test's Trio thread. A probe cannot be watched or linked
    (it is not an actor); it can watch others with ``expect_terminated``.
    """

    __test__ = False  # not a test class, despite its name
    __slots__ = ("_arrived", "_inbox", "_last", "_runtime", "history")

    def __init__(self, runtime: Runtime, name: str | None = None) -> None:
        """A probe at ``/probe/<name>``, or ``/probe/1``, ``/probe/2``... in the runtime.

        Raises:
            ValueError: a probe of this runtime has that name already, or the name
                is not one path segment, as an actor's name (a non-empty string without
                ``/``, whitespace, ``*`` or ``>``, and not only dots).
            TypeError: ``runtime`` is not a ``Runtime``.
        """
        if not isinstance(runtime, Runtime):
            raise TypeError(f"TestProbe needs the Runtime it belongs to, got {runtime!r}")
        if name is not None:
            check_name(name, "a probe name")
        taken = _names.setdefault(runtime, set())
        if name is None:
            name = next(label for n in itertools.count(1) if (label := str(n)) not in taken)
        elif name in taken:
            raise ValueError(f"a probe named {name!r} exists in this runtime")
        taken.add(name)
        super().__init__(Address(runtime.node, f"/probe/{name}"), _ProbeEndpoint(self))
        self._runtime = runtime
        self._inbox: deque[Received] = deque()
        self._arrived = trio.Event()
        self._last: Received | None = None
        self.history: list[Received] = []
        """Every message received, including those already taken."""

    def __repr__(self) -> str:
        return f"<TestProbe {self.address.path}, {len(self._inbox)} waiting>"

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        """A watched actor stopped for good: receive its ``Terminated`` (a ``Watcher``)."""
        self._arrive(Received(trio.current_time(), Terminated(ref, reason)))

    def _arrive(self, received: Received) -> None:
        self._inbox.append(received)
        self.history.append(received)
        self._arrived.set()

    async def _next(self, deadline: float) -> Received | None:
        """The next message, arrived by ``deadline`` (included); ``None`` if none did.

        On virtual time, what is due at the deadline's instant (a timer, the
        messages it sets off) happens before the wait gives up: a message that
        arrives at the deadline arrived within it, whichever ready task Trio runs
        first (unless some task never waits: past ``SETTLE_STEPS`` of their steps,
        what has arrived decides).
        """
        with trio.move_on_at(deadline):
            while not self._inbox:
                if self._arrived.is_set():
                    # A fresh event only once the last one fired: tasks waiting on it
                    # still (another wait of this probe) are woken by the next arrival.
                    self._arrived = trio.Event()
                await self._arrived.wait()
            return self._inbox.popleft()
        if not self._inbox and _time_is_virtual():
            # Virtual time stands still while a task waits for every other to wait (for a
            # bounded number of their steps: a task that never waits does not hang this one).
            await settle()
        return self._inbox.popleft() if self._inbox else None

    def _failure(self, expected: str, within: float, seen: list[Received]) -> AssertionError:
        now = trio.current_time()
        arrived = [str(r) for r in (*seen, *self._inbox)]
        listing = "\n  ".join(arrived) if arrived else "nothing"
        return AssertionError(
            f"{self.address.path} expected {expected} within {within}s (now t={now:.4f}); "
            f"arrived instead:\n  {listing}"
        )

    def _take(self, received: Received) -> object:
        if received.is_ask:
            self._last = received
        return received.message

    async def expect(self, matcher: Matcher, *, within: float = DEFAULT_WITHIN) -> object:
        """Take the next message; it must match (a type or a union, a predicate, an equal value).

        A predicate that raises takes nothing: its error goes up, the message stays.

        Raises:
            AssertionError: nothing arrived within ``within`` seconds, or the next
                message does not match; the message lists what arrived.
            ValueError: ``within`` is not a number of seconds >= 0.
            TypeError: ``matcher`` is a parameterized generic (``list[int]``,
                ``Box[int]``), or a union holds one: ``isinstance`` cannot check it.
        """
        _check_matcher("expect", matcher)
        return await self._expect(matcher, _describe(matcher), within)

    async def _expect(self, matcher: Matcher, expected: str, within: float) -> object:
        """``expect``, whose failure says ``expected`` (what was awaited, in words)."""
        received = await self._next(_deadline(within))
        if received is None:
            raise self._failure(expected, within, [])
        with self._put_back_if_cancelled([received]):  # a predicate that raises took nothing
            matched = _matches(matcher, received.message)
        if not matched:
            raise self._failure(expected, within, [received])
        return self._take(received)

    async def expect_no_message(self, *, within: float = 1.0) -> None:
        """Wait ``within`` seconds; no message may arrive (or be waiting) meanwhile.

        Raises:
            AssertionError: a message arrived; it is listed.
            ValueError: ``within`` is not a number of seconds >= 0.
        """
        received = await self._next(_deadline(within))
        if received is not None:
            self._inbox.appendleft(received)
            raise self._failure("no message", within, [])

    async def receive_n(self, n: int, *, within: float = DEFAULT_WITHIN) -> list[object]:
        """Take the next ``n`` messages, whatever they are.

        Cancelled, it takes none: the messages it had taken stay first in line,
        in order, for the next expectation.

        Raises:
            AssertionError: fewer than ``n`` arrived within ``within`` seconds.
            ValueError: ``n`` is not an int >= 0, or ``within`` not seconds >= 0.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        deadline = _deadline(within)
        taken: list[Received] = []
        with self._put_back_if_cancelled(taken):
            while len(taken) < n:
                received = await self._next(deadline)
                if received is None:
                    break
                taken.append(received)
            await checkpoint()
        if len(taken) < n:
            raise self._failure(f"{n} messages", within, taken)
        return [self._take(r) for r in taken]

    @contextmanager
    def _put_back_if_cancelled(self, taken: list[Received]) -> Iterator[None]:
        """Put ``taken`` back at the front of the inbox, in order, if the block is cancelled.

        (Or raises otherwise: a failing predicate leaves the inbox as it found it too.)
        """
        try:
            yield
        except BaseException:
            self._inbox.extendleft(reversed(taken))
            raise

    async def fish_for(self, predicate: Matcher, *, within: float = DEFAULT_WITHIN) -> object:
        """Skip messages until one matches; return it.

        ``predicate`` matches as ``expect``'s matcher does: a type (or a union of
        types) by ``isinstance``, a function by what it returns, another value by
        equality. A predicate that raises takes nothing; its error goes up.
        Cancelled, it skips none: the messages it had skipped stay first in line.

        Raises:
            AssertionError: none did within ``within`` seconds; the skipped ones are listed.
            ValueError: ``within`` is not a number of seconds >= 0.
            TypeError: ``predicate`` is a parameterized generic, as for ``expect``.
        """
        _check_matcher("fish_for", predicate)
        deadline = _deadline(within)
        skipped: list[Received] = []
        with self._put_back_if_cancelled(skipped):
            while True:
                received = await self._next(deadline)
                if received is None:
                    break
                skipped.append(received)  # until the predicate has said (it may raise)
                if _matches(predicate, received.message):
                    skipped.pop()
                    break
        if received is None:
            raise self._failure(_describe(predicate), within, skipped)
        return self._take(received)

    def reply(self, value: object) -> None:
        """Answer the last ask this probe took (by ``expect``, ``receive_n`` or ``fish_for``).

        Raises:
            RuntimeError: no ask has been taken, or it was answered already.
        """
        self._settle(outcome.Value(value))

    def reply_error(self, error: BaseException) -> None:
        """Make the last ask this probe took raise ``error`` (like a handler's ``Reject``)."""
        self._settle(outcome.Error(error))

    def _settle(self, result: outcome.Outcome[object]) -> None:
        received = self._last
        if received is None:
            raise RuntimeError(f"{self.address.path} has taken no ask to reply to")
        self._last = None
        task, received._reply_to = received._reply_to, None
        if task is not None:
            trio.lowlevel.reschedule(task, result)
        elif not received._abandoned:
            raise RuntimeError(f"{self.address.path} already answered that ask")

    async def expect_terminated(
        self, ref: ActorRef[object], *, within: float = DEFAULT_WITHIN
    ) -> Terminated:
        """Watch ``ref`` and expect its ``Terminated`` next (at once if it is already dead).

        Failed or cancelled, it stops watching ``ref``.

        Raises:
            AssertionError: it did not stop within ``within`` seconds, or another
                message came first (as with ``expect``).
            ValueError: ``within`` is not a number of seconds >= 0.
            TypeError: ``ref`` is not an ``ActorRef``, or one that cannot be watched.
        """
        if not isinstance(ref, ActorRef):
            raise TypeError(f"expect_terminated watches an ActorRef, got {ref!r}")
        check_seconds("within", within)  # before watching
        watch = getattr(ref.endpoint, "watch", None)
        if watch is None:
            raise TypeError(f"{ref!r} cannot be watched")
        watch(self)

        def terminated_of_ref(message: object) -> bool:
            return isinstance(message, Terminated) and message.ref == ref

        try:
            expected = f"the Terminated of {ref.address.path}"
            message = await self._expect(terminated_of_ref, expected, within)
        except BaseException:
            # Failed or cancelled: its Terminated, when it comes, is not awaited any more.
            unwatch = getattr(ref.endpoint, "unwatch", None)
            if unwatch is not None:
                unwatch(self)
            raise
        assert isinstance(message, Terminated)
        return message
