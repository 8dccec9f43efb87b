"""Supervision decisions: pure logic, no I/O, no Trio.

Theory of operation
-------------------
A supervisor owns a ``Supervision`` (the decision state) built from its
``Strategy``. Each time a child exits (fails, or stops by itself), the runtime
calls ``Supervision.on_exit`` with the child's id, its restart kind, the error
(``None`` for a normal exit) and the current time, and gets back a
``Decision``: resume the failed instance, restart some children (in start
order, after a backoff delay), stop the child for good, or escalate (the
supervisor fails itself, because the strategy says so or because restarts
exceeded the intensity: ``gave_up``). The runtime carries the decision out;
this module never waits, sleeps or touches a task.

Intensity counts as OTP does: every restart the supervisor decides on is
recorded at the moment it is decided (a restart whose ``on_start`` then fails
counts too, and the failed start is a new exit); a restart at time ``t`` counts
while ``now - t <= within`` (OTP keeps a restart exactly ``period`` old too);
when recording one more would make more than ``max_restarts``, the supervisor
gives up instead. ``max_restarts=0`` gives up on the first failure.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence

import attrs

__all__ = [
    "Backoff",
    "Decision",
    "Directive",
    "OneForAll",
    "OneForOne",
    "RestForOne",
    "Restart",
    "Strategy",
    "Supervision",
    "within_intensity",
]


class Restart(enum.Enum):
    """When a child is restarted after it exits (OTP's restart types)."""

    PERMANENT = "permanent"
    """Always: after a failure and after a normal stop of its own."""
    TRANSIENT = "transient"
    """Only after a failure; a normal stop is final."""
    TEMPORARY = "temporary"
    """Never; a temporary child that exits is gone."""


class Directive(enum.Enum):
    """What a supervisor does with a failed child (Akka's directives)."""

    RESUME = "resume"
    """Keep the instance and its state; the failed message is dropped (as a dead letter)."""
    RESTART = "restart"
    """Replace the instance with a fresh one, under the strategy's intensity and backoff."""
    STOP = "stop"
    """Stop the child for good."""
    ESCALATE = "escalate"
    """Fail the supervisor itself; its own supervisor decides."""


def _non_negative(name: str) -> Callable[[object, attrs.Attribute[float], float], None]:
    def check(_instance: object, _attribute: attrs.Attribute[float], value: float) -> None:
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")

    return check


@attrs.frozen
class Backoff:
    """Growing waits between consecutive restarts of the same child.

    The first restart after a quiet period waits ``initial`` seconds; each
    further consecutive failure (a failed ``on_start`` too) multiplies the wait
    by ``multiplier``, up to ``maximum``. ``jitter`` adds up to that fraction of
    the wait at random (``0.1``: up to 10 % longer), drawn from the runtime's
    random source so that simulations replay. Once the child has run for
    ``reset_after`` seconds since its last restart without failing (default:
    ``maximum``), the next wait is ``initial`` again.
    """

    initial: float = attrs.field(validator=_non_negative("initial"))
    """Seconds before the first restart."""
    maximum: float = attrs.field()
    """The longest wait, in seconds."""
    multiplier: float = attrs.field(default=2.0)
    """Factor between consecutive waits (>= 1)."""
    jitter: float = attrs.field(default=0.0)
    """Random extra, as a fraction of the wait, between 0 and 1."""
    reset_after: float | None = attrs.field(default=None)
    """Quiet seconds after which the wait starts over (``None``: ``maximum``)."""

    @maximum.validator
    def _check_maximum(self, _attribute: object, value: float) -> None:
        if not value >= self.initial:
            raise ValueError(f"maximum must be >= initial ({self.initial!r}), got {value!r}")

    @multiplier.validator
    def _check_multiplier(self, _attribute: object, value: float) -> None:
        if not (value >= 1 and math.isfinite(value)):
            raise ValueError(f"multiplier must be a finite number >= 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _attribute: object, value: float) -> None:
        if not 0 <= value <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {value!r}")

    @reset_after.validator
    def _check_reset_after(self, _attribute: object, value: float | None) -> None:
        if value is not None and not value >= 0:
            raise ValueError(f"reset_after must be >= 0, got {value!r}")

    @property
    def quiet_period(self) -> float:
        """Seconds without failure after which the wait starts over."""
        return self.maximum if self.reset_after is None else self.reset_after

    def delay(self, attempt: int, random: float = 0.0) -> float:
        """Return the wait before restart number ``attempt`` (0 is the first).

        ``random`` is a number in [0, 1) that scales the jitter.
        """
        try:
            grown = self.initial * self.multiplier**attempt
        except OverflowError:  # (a child that has failed at every restart for hours)
            grown = math.inf if self.initial > 0 else 0.0
        base = min(grown, self.maximum)
        return base * (1.0 + self.jitter * random)


def _directive_pairs(
    value: Mapping[type[BaseException], Directive]
    | Sequence[tuple[type[BaseException], Directive]],
) -> tuple[tuple[type[BaseException], Directive], ...]:
    pairs = tuple(value.items()) if isinstance(value, Mapping) else tuple(value)
    for error_type, directive in pairs:
        if not (isinstance(error_type, type) and issubclass(error_type, BaseException)):
            raise ValueError(f"directives keys must be exception classes, got {error_type!r}")
        if not isinstance(directive, Directive):
            raise ValueError(f"directives values must be Directive members, got {directive!r}")
    return pairs


@attrs.frozen
class Strategy:
    """How a supervisor treats its children's failures (base of the three strategies).

    Restart intensity: at most ``max_restarts`` restarts within ``within``
    seconds; one more and the supervisor gives up (stops its children and
    fails itself). ``backoff`` spaces restarts of the same child (none by
    default: restarts are immediate, as in OTP). ``directives`` maps exception
    classes to a ``Directive`` (looked up along the error's MRO, Akka's
    decider); errors not in it restart.
    """

    max_restarts: int = attrs.field(default=3)
    """Restarts allowed within the window before the supervisor gives up."""
    within: float = attrs.field(default=5.0)
    """The window, in seconds."""
    backoff: Backoff | None = attrs.field(default=None)
    """Waits between restarts of the same child, or ``None`` for none."""
    directives: tuple[tuple[type[BaseException], Directive], ...] = attrs.field(
        default=(), converter=_directive_pairs
    )
    """Exception classes mapped to the directive for them; others restart."""

    @max_restarts.validator
    def _check_max_restarts(self, _attribute: object, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {value!r}")

    @within.validator
    def _check_within(self, _attribute: object, value: float) -> None:
        if not value > 0:
            raise ValueError(f"within must be > 0 seconds, got {value!r}")

    @backoff.validator
    def _check_backoff(self, _attribute: object, value: Backoff | None) -> None:
        if value is not None and not isinstance(value, Backoff):
            raise ValueError(f"backoff must be a Backoff or None, got {value!r}")

    def __attrs_post_init__(self) -> None:
        if type(self).affected is Strategy.affected:
            # The base names no children to restart: a supervisor given it would
            # fail inside its own worker at the first restart, not here.
            raise ValueError(
                f"{type(self).__name__} does not say which children to restart: "
                "use OneForOne, OneForAll or RestForOne (or a subclass defining affected())"
            )

    def directive_for(self, error: BaseException) -> Directive:
        """Return the directive for ``error``: the first match along its MRO, else RESTART."""
        for cls in type(error).__mro__:
            for error_type, directive in self.directives:
                if cls is error_type:
                    return directive
        return Directive.RESTART

    def affected(self, children: Sequence[str], failed: str) -> tuple[str, ...]:
        """Return the ids to restart, in start order, when ``failed`` must restart."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short text for trees and logs: ``OneForOne(3 in 5s)``."""
        backoff = (
            ""
            if self.backoff is None
            else f", backoff {self.backoff.initial:g}..{self.backoff.maximum:g}s"
        )
        return f"{type(self).__name__}({self.max_restarts} in {self.within:g}s{backoff})"


@attrs.frozen
class OneForOne(Strategy):
    """Restart only the child that failed."""

    def affected(self, children: Sequence[str], failed: str) -> tuple[str, ...]:
        """Return ``(failed,)``."""
        return (failed,)


@attrs.frozen
class OneForAll(Strategy):
    """Restart every child when one fails: all are stopped, then started in order."""

    def affected(self, children: Sequence[str], failed: str) -> tuple[str, ...]:
        """Return every child, in start order."""
        return tuple(children)


@attrs.frozen
class RestForOne(Strategy):
    """Restart the failed child and every child started after it, in order."""

    def affected(self, children: Sequence[str], failed: str) -> tuple[str, ...]:
        """Return the failed child and the children after it, in start order."""
        index = list(children).index(failed)
        return tuple(children[index:])


@attrs.frozen
class Decision:
    """What a supervisor does after a child exits."""

    directive: Directive
    """RESUME, RESTART, STOP, or ESCALATE (the supervisor fails)."""
    restart: tuple[str, ...] = ()
    """For RESTART: the children to restart, in start order."""
    delay: float = 0.0
    """For RESTART: seconds to wait before starting them again."""
    gave_up: bool = False
    """For ESCALATE: the restart intensity was exceeded (not the error's directive)."""


def within_intensity(
    history: tuple[float, ...], now: float, max_restarts: int, within: float
) -> tuple[tuple[float, ...], bool]:
    """Record one more restart at ``now``.

    Returns the history that still counts (restarts with ``now - t <= within``,
    the new one included) and whether it stays within ``max_restarts``.
    """
    kept = (*(t for t in history if now - t <= within), now)
    return kept, len(kept) <= max_restarts


@attrs.define(eq=False)
class _Streak:
    attempts: int = 0
    restarted_at: float = -math.inf


@attrs.define(eq=False)
class Supervision:
    """A supervisor's decision state: its strategy, restart history and backoff streaks.

    ``per_child=True`` keeps one restart history per child instead of one for
    the whole supervisor; the runtime's root uses it, because top-level actors
    are independent services.
    """

    strategy: Strategy
    per_child: bool = False
    _history: dict[str | None, tuple[float, ...]] = attrs.field(factory=dict, init=False)
    _streaks: dict[str, _Streak] = attrs.field(factory=dict, init=False)

    def on_exit(
        self,
        children: Sequence[str],
        child: str,
        restart: Restart,
        error: BaseException | None,
        now: float,
        random: float = 0.0,
        *,
        started: bool = True,
    ) -> Decision:
        """Decide what happens after ``child`` (one of ``children``) exits.

        Args:
            children: the supervisor's live children's ids, in start order.
            child: the id of the child that exited.
            restart: its restart kind.
            error: what it failed with, or ``None`` if it stopped by itself.
            now: the current time, in seconds.
            random: a number in [0, 1) for the backoff jitter.
            started: whether the failed instance had completed ``on_start``;
                an instance that never started cannot be resumed, so RESUME
                restarts it instead (and counts).
        """
        if error is None:
            if restart is not Restart.PERMANENT:
                return Decision(Directive.STOP)
        else:
            directive = self.strategy.directive_for(error)
            if directive is Directive.RESUME and not started:
                directive = Directive.RESTART
            if directive is not Directive.RESTART:
                return Decision(directive)
            if restart is Restart.TEMPORARY:
                return Decision(Directive.STOP)
        key = child if self.per_child else None
        history, allowed = within_intensity(
            self._history.get(key, ()), now, self.strategy.max_restarts, self.strategy.within
        )
        self._history[key] = history
        if not allowed:
            return Decision(Directive.ESCALATE, gave_up=True)
        return Decision(
            Directive.RESTART,
            restart=self.strategy.affected(children, child),
            delay=self._next_delay(child, now, random),
        )

    def _next_delay(self, child: str, now: float, random: float) -> float:
        backoff = self.strategy.backoff
        if backoff is None:
            return 0.0
        streak = self._streaks.setdefault(child, _Streak())
        # Quiet time runs from the last restart, not the last failure: the
        # backoff wait itself is not time the child ran without failing.
        if now - streak.restarted_at >= backoff.quiet_period:
            streak.attempts = 0
        delay = backoff.delay(streak.attempts, random)
        streak.attempts += 1
        streak.restarted_at = now + delay
        return delay

    def forget(self, child: str) -> None:
        """Drop what is kept about a child that is gone for good."""
        self._streaks.pop(child, None)
        if self.per_child:
            self._history.pop(child, None)
