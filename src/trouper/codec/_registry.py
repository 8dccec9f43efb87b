"""The registry of message types: stable names for the classes that cross the edge.

A name is the contract between the code and what it stored or sent: a row
written today is read back by a later version of the code through its name
alone, so one name means one class and one class has one name, both ways,
for the life of a registry. Registrations only add; nothing is ever
unregistered, so a name never changes meaning. A codec reads the registry
when it builds a class's hooks (once), so a class registered after a codec
first used it keeps, in that codec, what it had then: an unregistered union
member's ``module.QualName`` tag, the strict field policy. Hence: register
at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import attrs

from trouper._text import type_name
from trouper.codec._names import (
    BUILTIN_NAMES,
    MAX_NAME_LENGTH,
    check_message_name,
    default_name,
)
from trouper.errors import MessageTypeConflict, UnknownMessageType, UnregisteredMessageType

__all__ = [
    "DEFAULT_REGISTRY",
    "MessageRegistry",
    "message",
    "name_of",
    "register",
    "type_named",
]

T = TypeVar("T")


class MessageRegistry:
    """Message types by stable name, and names by type: what a codec encodes and decodes.

    Every registry knows the builtin value types under reserved bare names
    (``none``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``,
    ``dict``). Most code uses the process-wide ``DEFAULT_REGISTRY`` through
    ``@message`` and ``register``; tests and nodes that want their own set of
    types make their own registry.

    Registering is safe from several threads; looking up never blocks.
    """

    __slots__ = ("_by_name", "_by_type", "_lenient", "_lock")

    def __init__(self) -> None:
        # name -> class, the builtins included; an entry is never replaced or removed.
        self._by_name: dict[str, type] = dict(BUILTIN_NAMES)
        # class -> name: the exact inverse of _by_name.
        self._by_type: dict[type, str] = {cls: name for name, cls in BUILTIN_NAMES.items()}
        # The registered classes whose payloads may carry fields they do not have.
        self._lenient: set[type] = set()
        # Serializes registrations (check then insert); lookups do not take it.
        self._lock = threading.Lock()

    def register(
        self, cls: type[T], name: str | None = None, *, ignore_unknown_fields: bool = False
    ) -> type[T]:
        """Register the attrs class ``cls`` under ``name`` and return it.

        Args:
            cls: an attrs class (``@attrs.frozen`` is the recommended form).
            name: its stable name; by default ``module.QualName`` (see
                ``default_name``), which changes when the class moves, so
                give one to anything that is stored for long.
            ignore_unknown_fields: decode payloads that carry fields the class
                does not have by dropping those fields, instead of refusing them
                (see docs/messages.md for when that is right).

        Raises:
            TypeError: ``cls`` is not an attrs class.
            ValueError: ``name`` breaks the naming rule, or no name was given
                and none can be derived.
            MessageTypeConflict: ``name`` already names another class, or
                ``cls`` already has another name (or the other unknown-field
                policy). Registering again exactly as before is allowed.
        """
        if not _is_attrs_class(cls):
            raise TypeError(
                f"a message type must be an attrs class (such as one decorated with "
                f"@attrs.frozen), got {cls!r}"
            )
        name = default_name(cls) if name is None else check_message_name(name)
        with self._lock:
            holder = self._by_name.get(name)
            known = self._by_type.get(cls)
            if holder is not None and holder is not cls:
                held = type_name(holder)
                if held == type_name(cls):
                    # Two classes, one name: "already names m.Ping" would read as
                    # m.Ping clashing with itself.
                    held = (
                        f"another class called {held} (was its module imported twice, or reloaded?)"
                    )
                raise MessageTypeConflict(type_name(cls), name, f"{name!r} already names {held}")
            if known is not None and known != name:
                raise MessageTypeConflict(
                    type_name(cls), name, f"it is already registered as {known!r}"
                )
            if known is not None and (cls in self._lenient) != ignore_unknown_fields:
                raise MessageTypeConflict(
                    type_name(cls),
                    name,
                    "it is already registered with ignore_unknown_fields="
                    f"{not ignore_unknown_fields}",
                )
            if ignore_unknown_fields:
                self._lenient.add(cls)
            self._by_type[cls] = name
            self._by_name[name] = cls
        return cls

    def message(
        self, name: str | None = None, *, ignore_unknown_fields: bool = False
    ) -> Callable[[type[T]], type[T]]:
        """Return a class decorator that registers the class here (see ``register``)."""
        if isinstance(name, type):
            raise TypeError(
                "message() takes the type's name: write @message('app.name') or @message()"
            )
        if name is not None:
            check_message_name(name)

        def decorate(cls: type[T]) -> type[T]:
            return self.register(cls, name, ignore_unknown_fields=ignore_unknown_fields)

        return decorate

    def name_of(self, cls: type) -> str:
        """Return the name ``cls`` is registered under.

        Raises:
            UnregisteredMessageType: ``cls`` is not registered (its subclasses
                and superclasses do not count).
            TypeError: ``cls`` is not a class (an instance of one, say).
        """
        name = self._by_type.get(cls)
        if name is None:
            if not isinstance(cls, type):
                raise TypeError(
                    "name_of() takes a message type (a class), got an instance of "
                    f"{type_name(type(cls))}"
                )
            raise UnregisteredMessageType(type_name(cls))
        return name

    def type_named(self, name: str) -> type:
        """Return the class registered as ``name``. Never imports anything.

        Raises:
            UnknownMessageType: no class is registered as ``name``.
        """
        cls = self._by_name.get(name)
        if cls is None:
            if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
                # Read from a payload, it may be of any length; so long, it names no type.
                name = name[: MAX_NAME_LENGTH - 3] + "..."
            raise UnknownMessageType(name)
        return cls

    def ignores_unknown_fields(self, cls: type) -> bool:
        """Whether payloads of ``cls`` may carry fields it does not have (they are dropped)."""
        return cls in self._lenient

    def names(self) -> list[str]:
        """Return every registered name, the builtins' included, sorted."""
        return sorted(self._by_name)

    def __contains__(self, item: object) -> bool:
        """Whether ``item``, a name or a class, is registered."""
        if isinstance(item, str):
            return item in self._by_name
        return item in self._by_type

    def __repr__(self) -> str:
        return f"<MessageRegistry of {len(self._by_name) - len(BUILTIN_NAMES)} message types>"


def _is_attrs_class(cls: object) -> bool:
    return isinstance(cls, type) and attrs.has(cls)


DEFAULT_REGISTRY = MessageRegistry()
"""The process-wide registry that ``@message``, ``register`` and ``Codec()`` use."""


def message(
    name: str | None = None, *, ignore_unknown_fields: bool = False
) -> Callable[[type[T]], type[T]]:
    """Register the decorated attrs class in the default registry under ``name``.

    Put it above ``@attrs.frozen``::

        @trouper.message("shop.place-order")
        @attrs.frozen
        class PlaceOrder:
            order_id: str
            total: int

    See ``MessageRegistry.register`` for the arguments and errors; the name is
    checked when the decorator is made, the class when it is applied.
    """
    return DEFAULT_REGISTRY.message(name, ignore_unknown_fields=ignore_unknown_fields)


def register(
    cls: type[T], name: str | None = None, *, ignore_unknown_fields: bool = False
) -> type[T]:
    """Register the attrs class ``cls`` in the default registry (``MessageRegistry.register``)."""
    return DEFAULT_REGISTRY.register(cls, name, ignore_unknown_fields=ignore_unknown_fields)


def name_of(cls: type) -> str:
    """Return the name ``cls`` has in the default registry (``UnregisteredMessageType`` if none)."""
    return DEFAULT_REGISTRY.name_of(cls)


def type_named(name: str) -> type:
    """Return the class named ``name`` in the default registry (``UnknownMessageType`` if none)."""
    return DEFAULT_REGISTRY.type_named(name)
