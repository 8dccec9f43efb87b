"""Message types the codec tests share, registered in their own registry (not the default one)."""

from __future__ import annotations

import datetime
import enum
from typing import Any

import attrs

from trouper import ActorRef, Address
from trouper.codec import MessageRegistry

REGISTRY = MessageRegistry()
"""Where every message type below is registered."""


class Color(enum.Enum):
    """A plain enum with str values."""

    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    """An int enum (which cattrs dispatches as an int)."""

    LOW = 1
    HIGH = 2


@attrs.frozen
class Item:
    """A nested value that is not registered itself."""

    sku: str
    qty: int


@REGISTRY.message("shop.place-order")
@attrs.frozen
class PlaceOrder:
    """The smallest message: two scalar fields."""

    order_id: str
    total: int


@REGISTRY.message("shop.charge")
@attrs.frozen
class Charge:
    """A typical durable row: ids, ints, a float, a nested value, a list, an optional."""

    order_id: str
    total: int
    rate: float
    item: Item
    tags: list[str]
    note: str | None = None


@REGISTRY.message("shape.circle")
@attrs.frozen
class Circle:
    """One member of a tagged union."""

    radius: float


@REGISTRY.message("shape.square")
@attrs.frozen
class Square:
    """Another member of a tagged union."""

    side: float


@REGISTRY.message("kit.everything")
@attrs.frozen
class Everything:
    """One field of each supported shape."""

    color: Color
    level: Level
    at: datetime.datetime
    day: datetime.date
    shape: Circle | Square
    maybe_shape: Circle | Square | None
    number_or_text: int | str
    pair: tuple[int, str]
    many: tuple[int, ...]
    tags: set[str]
    frozen: frozenset[int]
    prices: dict[str, float]
    by_color: dict[Color, int]
    blob: bytes
    flag: bool
    items: list[Item]
    address: Address
    anything: Any


@REGISTRY.message("kit.with-refs")
@attrs.frozen
class WithRefs:
    """Refs in every position a message may hold them."""

    reply_to: ActorRef[object]
    maybe: ActorRef[object] | None
    several: list[ActorRef[object]]


@REGISTRY.message("kit.tree")
@attrs.frozen
class Tree:
    """A class that contains itself."""

    label: str
    children: list[Tree] = attrs.Factory(list)


def _positive(_instance: object, _attribute: object, value: int) -> None:
    if value <= 0:
        raise ValueError(f"total must be positive, got {value}")


@REGISTRY.message("shop.refund")
@attrs.frozen
class Refund:
    """A class whose validator refuses some values."""

    total: int = attrs.field(validator=_positive)


@REGISTRY.message("shop.tolerant", ignore_unknown_fields=True)
@attrs.frozen
class Tolerant:
    """A message registered to drop fields it does not have."""

    order_id: str
    total: int = 0
