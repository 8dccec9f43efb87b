"""Small text helpers shared by every layer (logs, dead letters, trees)."""

from __future__ import annotations


def describe(error: BaseException) -> str:
    """Return ``TypeName('message')`` for an error, as logs and dead letters show it.

    Never raises: an error whose ``str()`` raises (a user's exception class
    with a broken ``__str__``) is shown as ``TypeName(<str() raised E>)``, so
    that reporting a failure cannot fail in turn.
    """
    try:
        text = str(error)
    except Exception as broken:
        return f"{type(error).__name__}(<str() raised {type(broken).__name__}>)"
    return f"{type(error).__name__}({text!r})"


def type_name(cls: type) -> str:
    """Return a class's qualified name, with its module unless it is a builtin."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def class_label(cls: type) -> str:
    """A class's qualified name without the ``<locals>`` of enclosing functions."""
    return cls.__qualname__.rpartition("<locals>.")[2]


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate).

    ASCII text is known to be without a look at its characters (no copy made).
    """
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` if it was longer.

    For what an error shows of a text read from outside (a payload's value,
    an address, a user validator's words), which may be of any length.
    """
    return text if len(text) <= limit else text[: limit - 3] + "..."
