"""Message type names: the rule they follow, the default one, and the builtin ones.

A name is what a stored row or a message on the wire says its payload is, so
it must survive a class being moved or renamed in the code (give it yourself)
and fit anywhere a short identifier fits: an SQL column, a NATS header, a log
line. Hence the rule: dot-separated words of ASCII letters, digits, ``_`` and
``-``, at least two words, at most ``MAX_NAME_LENGTH`` characters. Bare words
(no dot) are reserved for the builtin value types, so a name trouper gives a
builtin can never clash with one a user chose.
"""

from __future__ import annotations

import re
import sys

__all__ = [
    "BUILTIN_NAMES",
    "MAX_NAME_LENGTH",
    "check_message_name",
    "default_name",
    "module_name",
]

MAX_NAME_LENGTH = 255
"""The longest message type name, in characters."""

BUILTIN_NAMES: dict[str, type] = {
    "none": type(None),
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "bytes": bytes,
    "list": list,
    "dict": dict,
}
"""The reserved names of the builtin value types every registry knows."""

_WORD = re.compile(r"[A-Za-z0-9_-]+")
_BAD_CHARACTER = re.compile(r"[^A-Za-z0-9_.-]")


def check_message_name(name: object) -> str:
    """Return ``name`` if it follows the rule for message type names.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: it breaks the rule; the message says how.
    """
    if not isinstance(name, str):
        raise TypeError(f"a message type name must be a str, got {name!r}")
    problem = _problem(name)
    if problem is not None:
        raise ValueError(f"invalid message type name {name!r}: {problem}")
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
    bad = _BAD_CHARACTER.search(name)
    if bad is not None:
        return (
            f"{bad.group()!r} at position {bad.start()} is not allowed "
            "(use ASCII letters, digits, '_', '-' and dots)"
        )
    words = name.split(".")
    if len(words) == 1:
        return "bare words are reserved for builtin values; use a dotted name such as 'app.ping'"
    if not all(_WORD.fullmatch(word) for word in words):
        return "it has an empty part between dots"
    return None


def module_name(cls: type) -> str:
    """The name of the module ``cls`` is defined in, as importing that module would call it.

    A class of a module run as ``python -m pkg.mod`` has ``__main__`` as its
    module, but ``pkg.mod`` when the module is imported: ``__main__``'s spec
    says which, so the name does not depend on how the module was started.
    A script run by its path has no spec (nor a module name): ``__main__``.
    """
    module = cls.__module__
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        name = getattr(spec, "name", None)
        if isinstance(name, str) and name:
            return name
    return module


def default_name(cls: type) -> str:
    """Return the name ``register`` gives ``cls`` when none is given: ``module.QualName``.

    The module is named as importing it would name it: a class of a module
    run with ``python -m shop.orders`` is ``shop.orders.Ping``, not
    ``__main__.Ping``. A class of a script run by its path keeps
    ``__main__``, which no import can give it: name such classes yourself.

    Raises:
        ValueError: ``cls`` is defined inside a function (its qualified name
            has ``<locals>``, so it names no stable place), or its module's
            name breaks the rule.
    """
    name = f"{module_name(cls)}.{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        raise ValueError(
            f"cannot derive a message type name for {name} (it is defined inside a "
            "function); give it one, such as register(cls, 'app.thing')"
        )
    return check_message_name(name)
