"""Fault plans: which faults a simulation injects, where, and how often.

A ``FaultPlan`` is a value: a tuple of rules. Each rule names the actors it
applies to by path patterns (``fnmatch`` style: ``/bank/*``), so faults only
happen where the plan says. The simulation asks the plan, at each send and
each delivery, what to do; every random draw comes from the simulation's
seeded source, in the order events happen, so a seed replays the same
faults.

Senders that are not actors (the simulation's own code, a timer's owner is
an actor) are named ``<main>``.
"""

from __future__ import annotations

import math
import random
from fnmatch import fnmatchcase
from typing import cast

import attrs

__all__ = [
    "Crash",
    "Delay",
    "Drop",
    "Duplicate",
    "Exponential",
    "FaultPlan",
    "InjectedCrash",
    "Pause",
    "Uniform",
]

MAIN = "<main>"


class InjectedCrash(Exception):
    """The error a ``Crash`` rule raises inside an actor, as if its handler had."""


def literal(value: object) -> str:
    """``repr(value)``, but an infinite float as ``math.inf``: a replay line must run as printed.

    (``repr(math.inf)`` is ``inf``, which Python reads as an unknown name.)
    """
    if isinstance(value, float) and math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    return repr(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _probability(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (_is_number(value) and 0 <= value <= 1):
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _fires(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    """A send rule's probability: between 0 and 1, and not 0 (such a rule never fires).

    A rule that never fires is not a rule switched off: it still draws from the
    fault source at each message it matches, so a plan holding it replays other
    faults than the same plan without it. Leaving it out is the way to switch it off.
    """
    _probability(instance, attribute, value)
    if value == 0:
        raise ValueError(
            f"a {type(instance).__name__} with probability 0 never fires; "
            "leave it out of the FaultPlan instead"
        )


def _can_match(pattern: object) -> bool:
    """Whether ``pattern`` can match an actor's path (paths start with ``/``)."""
    return isinstance(pattern, str) and pattern[:1] in ("/", "*", "?", "[")


def _pattern(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _can_match(value):
        raise ValueError(
            f"{attribute.name} must be a path pattern such as '/bank/*' (actor paths start "
            f"with '/'), got {value!r}"
        )


def _pair(_instance: object, attribute: attrs.Attribute[tuple[str, str]], value: object) -> None:
    if not (
        isinstance(value, tuple)
        and len(value) == 2
        and (value[0] == MAIN or _can_match(value[0]))
        and _can_match(value[1])
    ):
        raise ValueError(
            f"{attribute.name} must be a (sender, receiver) pair of path patterns (actor paths "
            f"start with '/'; a sender outside actors is '{MAIN}'), got {value!r}"
        )


@attrs.frozen
class Uniform:
    """A delay drawn uniformly between ``low`` and ``high`` seconds."""

    low: float
    """The shortest delay."""
    high: float
    """The longest delay."""

    def __attrs_post_init__(self) -> None:
        if not (
            _is_number(self.low) and _is_number(self.high) and 0 <= self.low <= self.high < math.inf
        ):
            raise ValueError(
                f"Uniform needs 0 <= low <= high < inf, got {self.low!r}, {self.high!r}"
            )

    def draw(self, rng: random.Random) -> float:
        """Draw one delay."""
        return rng.uniform(self.low, self.high)


@attrs.frozen
class Exponential:
    """A delay drawn from an exponential distribution with the given mean (seconds)."""

    mean: float
    """The mean delay."""

    def __attrs_post_init__(self) -> None:
        if not (_is_number(self.mean) and 0 < self.mean < math.inf):
            raise ValueError(f"Exponential needs 0 < mean < inf, got {self.mean!r}")

    def draw(self, rng: random.Random) -> float:
        """Draw one delay."""
        return rng.expovariate(1 / self.mean)


Distribution = float | Uniform | Exponential


def _distribution(
    _instance: object, attribute: attrs.Attribute[Distribution], value: object
) -> None:
    if isinstance(value, Uniform | Exponential):
        return
    if not (_is_number(value) and 0 <= value < math.inf):  # type: ignore[operator]
        raise ValueError(
            f"{attribute.name} must be seconds >= 0, a Uniform or an Exponential, got {value!r}"
        )


def _some_delay(instance: object, attribute: attrs.Attribute[Distribution], value: object) -> None:
    """A ``Delay``'s delay: a distribution that can draw more than 0 seconds."""
    _distribution(instance, attribute, value)
    if value == 0 or (isinstance(value, Uniform) and value.high == 0):
        raise ValueError(
            f"a Delay of 0 seconds changes nothing: {attribute.name} must be able to exceed 0, "
            f"got {value!r}"
        )


def _start(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if not (_is_number(value) and 0 <= value < math.inf):  # type: ignore[operator]
        raise ValueError(f"{attribute.name} must be a finite number of seconds >= 0, got {value!r}")


def _length(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if not (_is_number(value) and value > 0):  # type: ignore[operator]
        raise ValueError(f"{attribute.name} must be a number of seconds > 0, got {value!r}")


@attrs.frozen
class Crash:
    """Crash ``actor`` at its ``at_message``-th message, and/or with ``probability`` per message.

    The crash happens as the message is delivered, before the handler runs:
    the handler does not run, and the actor fails with ``InjectedCrash``
    (its supervisor decides what follows). Messages count from 1 per actor
    path, across restarts, spawns again at the path and a durable
    simulation's incarnations; ``at_message`` fires once.
    """

    actor: str = attrs.field(validator=_pattern)
    """Which actors (a path pattern)."""
    at_message: int | None = None
    """Crash at this message (counted per actor path, from 1)."""
    probability: float = attrs.field(default=0.0, validator=_probability)
    """Chance of a crash at each message."""

    def __attrs_post_init__(self) -> None:
        if self.at_message is not None and (
            isinstance(self.at_message, bool)
            or not isinstance(self.at_message, int)
            or self.at_message < 1
        ):
            raise ValueError(f"at_message must be an int >= 1, got {self.at_message!r}")
        if self.at_message is None and self.probability == 0:
            raise ValueError("a Crash needs at_message or a probability > 0")


@attrs.frozen
class Drop:
    """Lose messages from ``between[0]`` to ``between[1]`` with ``probability``.

    A dropped tell is gone; a dropped ask is never delivered, so its asker
    waits (until its own deadline).
    """

    between: tuple[str, str] = attrs.field(validator=_pair)
    """(sender, receiver) path patterns."""
    probability: float = attrs.field(validator=_fires)
    """Chance of a drop per message (> 0)."""


@attrs.frozen
class Delay:
    """Delay messages from ``between[0]`` to ``between[1]`` by ``delay`` with ``probability``.

    A delayed message can overtake, or be overtaken by, others: order per
    sender is no longer kept for it.
    """

    between: tuple[str, str] = attrs.field(validator=_pair)
    """(sender, receiver) path patterns."""
    probability: float = attrs.field(validator=_fires)
    """Chance of a delay per message (> 0)."""
    delay: Distribution = attrs.field(
        default=cast(Distribution, Uniform(0.0, 1.0)), validator=_some_delay
    )
    """Seconds of virtual time: a number > 0, a ``Uniform`` whose ``high`` is > 0, or an
    ``Exponential``."""


@attrs.frozen
class Duplicate:
    """Deliver messages from ``between[0]`` to ``between[1]`` twice with ``probability``.

    For an ask, the second copy arrives as a tell (its reply goes nowhere).
    """

    between: tuple[str, str] = attrs.field(validator=_pair)
    """(sender, receiver) path patterns."""
    probability: float = attrs.field(validator=_fires)
    """Chance of a duplicate per message (> 0)."""


@attrs.frozen
class Pause:
    """Stop ``actor`` from handling messages from time ``at`` for ``duration`` seconds.

    Times are virtual seconds since the simulation started. Messages that
    arrive during the pause wait in the mailbox. The pause takes hold as the
    actor takes its next message, before the handler runs: a member of a
    balancing pool holds that one message until the pause ends (the other
    members take the rest from the shared mailbox).
    """

    actor: str = attrs.field(validator=_pattern)
    """Which actors (a path pattern)."""
    at: float = attrs.field(validator=_start)
    """When the pause starts (finite, >= 0)."""
    duration: float = attrs.field(validator=_length, repr=literal)
    """How long it lasts (> 0; ``math.inf``: the actor never handles again)."""


Rule = Crash | Drop | Delay | Duplicate | Pause


@attrs.frozen
class Route:
    """What happens to one sent message."""

    drop: bool = False
    """It is lost (and then neither late nor doubled)."""
    delay: float = 0.0
    """It arrives this many seconds late."""
    duplicate: bool = False
    """It arrives twice."""


_DELIVER = Route()
_LOST = Route(drop=True)


def _matches(pattern: str, path: str) -> bool:
    return pattern == "*" or fnmatchcase(path, pattern)


@attrs.frozen(init=False)
class FaultPlan:
    """The faults a simulation injects: a tuple of ``Crash``, ``Drop``, ``Delay``,
    ``Duplicate`` and ``Pause`` rules. An empty plan injects nothing.
    """

    rules: tuple[Rule, ...] = ()
    """The rules, in order. Every send rule that matches a message draws its own chance,
    in order, whatever the others drew. A drop wins: a message any ``Drop`` fires on is
    lost, and nothing else happens to it (it is not late, nor doubled). Otherwise it is
    doubled if any ``Duplicate`` fires, and late by the last ``Delay`` that fires (both
    copies late when both fire). An actor crashes if any ``Crash`` fires and pauses in
    every ``Pause``'s window. No rule exempts a message from another."""

    def __init__(self, *rules: Rule) -> None:
        for rule in rules:
            if not isinstance(rule, Crash | Drop | Delay | Duplicate | Pause):
                raise ValueError(f"a FaultPlan takes fault rules, got {rule!r}")
        self.__attrs_init__(tuple(rules))

    def __repr__(self) -> str:
        return f"FaultPlan({', '.join(map(repr, self.rules))})"

    def route(self, sender: str, receiver: str, rng: random.Random) -> Route:
        """Decide the fate of a message from ``sender`` to ``receiver`` (draws from ``rng``)."""
        drop = duplicate = False
        delay = 0.0
        for rule in self.rules:
            if isinstance(rule, Drop | Delay | Duplicate):
                if not (_matches(rule.between[0], sender) and _matches(rule.between[1], receiver)):
                    continue
                if rng.random() >= rule.probability:
                    continue
                if isinstance(rule, Drop):
                    drop = True
                elif isinstance(rule, Delay):
                    distribution = rule.delay
                    delay = (
                        float(distribution)
                        if isinstance(distribution, int | float)
                        else distribution.draw(rng)
                    )
                else:
                    duplicate = True
        if drop:
            return _LOST  # a lost message is not also late or doubled
        if not (delay or duplicate):
            return _DELIVER
        return Route(delay=delay, duplicate=duplicate)

    def crash(self, actor: str, count: int, rng: random.Random) -> Crash | None:
        """The rule that crashes ``actor`` at its ``count``-th message, if any."""
        for rule in self.rules:
            if isinstance(rule, Crash) and _matches(rule.actor, actor):
                if rule.at_message == count:
                    return rule
                if rule.probability and rng.random() < rule.probability:
                    return rule
        return None

    def pause_until(self, actor: str, now: float) -> float | None:
        """When ``actor`` may handle again, if a pause covers time ``now``; else ``None``.

        Pauses that overlap or follow each other make one: the end is that of the last.
        """
        windows = [
            (rule.at, rule.at + rule.duration)
            for rule in self.rules
            if isinstance(rule, Pause) and _matches(rule.actor, actor)
        ]
        until: float | None = None
        moment = now
        while True:
            ends = [end for start, end in windows if start <= moment < end]
            if not ends:
                return until
            until = moment = max(ends)
