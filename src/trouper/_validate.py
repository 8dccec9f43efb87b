"""Argument checks shared by every layer; each raises ``ValueError`` saying what is wrong."""

from __future__ import annotations

import math

__all__ = [
    "check_mailbox_size",
    "check_name",
    "check_positive_int",
    "check_seconds",
    "check_throughput",
]


def check_mailbox_size(value: float) -> float:
    """Return ``value`` if it is an int >= 1 or ``math.inf``."""
    if value == math.inf:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"mailbox_size must be an int >= 1 or math.inf, got {value!r}")
    return value


def check_name(value: str, what: str = "an actor name") -> str:
    """Return ``value`` if it can name an actor (or a child id): one path segment.

    The rules, each with its own message: a non-empty string; no ``/`` (a name
    is one path segment); no whitespace; no ``*`` or ``>`` (the wildcards of
    subjects, which names become across nodes); not only dots (``.``, ``..``,
    which paths reserve).
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if "/" in value:
        raise ValueError(f"{what} is one path segment: it cannot hold '/', got {value!r}")
    if any(char.isspace() for char in value):
        raise ValueError(f"{what} cannot hold spaces or other whitespace, got {value!r}")
    if "*" in value or ">" in value:
        raise ValueError(f"{what} cannot hold '*' or '>', the wildcards of subjects, got {value!r}")
    if not value.strip("."):
        raise ValueError(f"{what} cannot be only dots, which paths reserve, got {value!r}")
    return value


def check_seconds(name: str, value: float) -> float:
    """Return ``value`` if it is a number of seconds >= 0 (``math.inf`` allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be seconds >= 0, got {value!r}")
    return value


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1 (a count of things; a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def check_port(value: object, *, lowest: int, note: str = "") -> int:
    """Return ``value`` if it is an int port from ``lowest`` (0: any free one) to 65535.

    ``note`` goes after the range in the error (what else the option takes).
    """
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 65535:
        raise ValueError(f"port must be an int from {lowest} to 65535{note}, got {value!r}")
    return value


def check_throughput(value: int) -> int:
    """Return ``value`` if it is an int >= 1."""
    return check_positive_int("throughput", value)


def check_mailbox_factory(value: object, option: str = "mailbox") -> object:
    """Return ``value`` if it is a mailbox factory: an instance with an ``open_mailbox`` method.

    A class (``Durable`` instead of ``Durable()``) is refused with its own
    message: its ``open_mailbox`` is callable too, unbound, and would fail deep
    inside with a missing argument.
    """
    if isinstance(value, type):
        raise TypeError(
            f"{option} must be a mailbox factory instance, got the class "
            f"{value.__qualname__}: pass an instance, such as Durable()"
        )
    if not callable(getattr(value, "open_mailbox", None)):
        raise TypeError(
            f"{option} must be a mailbox factory such as trouper.durable.Durable(), got {value!r}"
        )
    return value
