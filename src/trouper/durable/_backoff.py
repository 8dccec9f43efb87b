"""How long a failed message waits before its next delivery: pure functions, no Trio.

The default is exponential backoff with full jitter (AWS's "Exponential
Backoff And Jitter"): the n-th failure waits a uniformly random time between
0 and ``min(maximum, initial * multiplier ** (n - 1))``, which spreads the
retries of messages that failed together. An explicit tuple of delays waits
exactly those, the last one repeating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from random import Random

import attrs

__all__ = ["ExponentialJitter", "RetryBackoff", "retry_delay"]


def _is_number(value: object) -> bool:
    """Whether ``value`` is an int or a float (a bool is not: ``True`` is no count of seconds)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    """Whether the number ``value`` is finite as a float (an int too large for one is not).

    Seconds become times by float arithmetic, which such an int would make
    raise ``OverflowError`` later (as ``math.isfinite`` does on it here).
    """
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_seconds(value: float) -> bool:
    """Whether ``value`` is a finite number of seconds >= 0 (a delay, a window; no bool)."""
    return _is_number(value) and value >= 0 and _finite(value)


def check_delays(delays: Sequence[float]) -> None:
    """Refuse explicit backoff ``delays`` that are empty or hold one that is not ``is_seconds``.

    Raises:
        ValueError: ``delays`` is empty, or holds a delay that is not a
            finite number >= 0 (named in the message).
    """
    if not delays:
        raise ValueError("backoff delays must not be empty")
    for delay in delays:
        if not is_seconds(delay):
            raise ValueError(f"backoff delays must be finite numbers >= 0, got {delay!r}")


@attrs.frozen
class ExponentialJitter:
    """Exponential backoff with full jitter: failure n waits ``uniform(0, cap(n))``.

    ``cap(n) = min(maximum, initial * multiplier ** (n - 1))``, so the waits
    grow until ``maximum`` and are spread at random below their cap, drawn
    from the mailbox's random source (seed it to replay a run).
    """

    initial: float = attrs.field(default=1.0)
    """Cap of the first wait, in seconds (a number > 0; a bool or a string is refused)."""
    maximum: float = attrs.field(default=300.0)
    """The largest cap, in seconds (a number >= ``initial``; None is refused: give one)."""
    multiplier: float = attrs.field(default=2.0)
    """Factor between consecutive caps (a number >= 1)."""

    @initial.validator
    def _check_initial(self, _attribute: object, value: float) -> None:
        if not (_is_number(value) and value > 0 and _finite(value)):
            raise ValueError(f"initial must be a finite number > 0, got {value!r}")

    @maximum.validator
    def _check_maximum(self, _attribute: object, value: float) -> None:
        if not (_is_number(value) and value >= self.initial and _finite(value)):
            raise ValueError(
                f"maximum must be a finite number >= initial ({self.initial!r}), got {value!r}"
            )

    @multiplier.validator
    def _check_multiplier(self, _attribute: object, value: float) -> None:
        if not (_is_number(value) and value >= 1 and _finite(value)):
            raise ValueError(f"multiplier must be a finite number >= 1, got {value!r}")

    def cap(self, failures: int) -> float:
        """The longest wait after ``failures`` failures (1 is the first)."""
        exponent = min(failures - 1, 1024)
        try:
            grown = self.initial * self.multiplier**exponent
        except OverflowError:
            return self.maximum
        return min(self.maximum, grown)


RetryBackoff = ExponentialJitter | tuple[float, ...]
"""A retry policy: exponential with full jitter, or explicit delays in seconds."""


def retry_delay(backoff: RetryBackoff, failures: int, random: Random) -> float:
    """Seconds to wait after ``failures`` failures (1 is the first) under ``backoff``.

    Raises:
        TypeError: ``backoff`` is neither an ``ExponentialJitter`` nor a tuple
            of delays (``Durable`` makes a list one), or ``failures`` is not an int.
        ValueError: ``backoff`` is an empty tuple or holds a delay that is not a
            finite number >= 0 (as ``Durable`` refuses it), or ``failures`` is < 1.
    """
    if type(failures) is not int:
        raise TypeError(f"failures must be an int >= 1, got {failures!r}")
    if failures < 1:
        raise ValueError(f"failures must be >= 1, got {failures}")
    if isinstance(backoff, tuple):
        check_delays(backoff)  # a few, checked on a failure's path only
        return backoff[min(failures, len(backoff)) - 1]
    if not isinstance(backoff, ExponentialJitter):
        raise TypeError(
            f"backoff must be an ExponentialJitter or a tuple of delays, got {backoff!r}"
        )
    return random.uniform(0.0, backoff.cap(failures))
