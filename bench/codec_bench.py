"""Message formats for durable rows and node traffic: ``python -m bench.codec_bench [--quick]``.

Method: two messages typical of a durable row, a small one (a frozen attrs
class of six fields: two str ids, an int, a float, a nested attrs value, a
list of str, an optional str) and a larger one of about 1 KB (an order of ten
line items, a note, tags and a nested address). Each format turns them into
bytes through its own cattrs converter, made and warmed once (hooks are built
on first use, then cached): msgpack (``cattrs.preconf.msgpack``), JSON with
the stdlib (``cattrs.preconf.json``) and orjson (``cattrs.preconf.orjson``),
then trouper's codec, which is msgpack behind strict hooks, as ``encode`` /
``decode`` (name and payload apart) and ``encode_blob`` / ``decode_blob``
(one msgpack value holding both). Each cell is the best of ``--repeat``
rounds of ``timeit`` (µs per message, lower is better), every cell run once
per round, in this one process; the size is the encoded payload in bytes
(for trouper's blob, name included).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import timeit
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import cattrs
import msgpack  # type: ignore[import-untyped]
import orjson
from cattrs.preconf.json import make_converter as make_json_converter
from cattrs.preconf.msgpack import make_converter as make_msgpack_converter
from cattrs.preconf.orjson import make_converter as make_orjson_converter

from trouper.codec import Codec, MessageRegistry

__all__ = ["LARGE", "SMALL", "Row", "main", "measure"]


@attrs.frozen
class Item:
    """A line item: nested attrs value of both messages."""

    sku: str
    """Stock-keeping unit."""
    qty: int
    """How many."""


@attrs.frozen
class Charge:
    """The small message: what a durable row of a payment queue holds."""

    order_id: str
    """The order's id."""
    customer_id: str
    """The customer's id."""
    total: int
    """Amount in cents."""
    rate: float
    """An exchange rate."""
    item: Item
    """The main line item."""
    tags: list[str]
    """Labels."""
    note: str | None = None
    """An optional note."""


@attrs.frozen
class Address:
    """A postal address (nested in the large message)."""

    street: str
    """Street and number."""
    city: str
    """City."""
    country: str
    """ISO country code."""


@attrs.frozen
class Order:
    """The large message, about 1 KB: an order with its lines."""

    order_id: str
    """The order's id."""
    customer_id: str
    """The customer's id."""
    placed_at: float
    """A timestamp."""
    lines: list[Item]
    """Ten line items."""
    ship_to: Address
    """Where it goes."""
    tags: list[str]
    """Labels."""
    note: str | None
    """A long note."""
    priority: int = 0
    """Queue priority."""


SMALL = Charge("o-1042", "c-77", 3000, 1.0825, Item("sku-1", 2), ["web", "promo"], None)
"""The small message (6 fields plus an optional)."""

LARGE = Order(
    order_id="o-20240506-000123",
    customer_id="customer-000042",
    placed_at=1714986000.125,
    lines=[Item(f"sku-{n:06d}-variant-{n % 3}", n + 1) for n in range(10)],
    ship_to=Address("12 rue des Acacias, bâtiment B", "Lyon", "FR"),
    tags=["web", "promo", "gift", "express", "fragile"],
    note="Leave at the door if nobody answers; ring twice. " * 10,
    priority=3,
)
"""The large message (about 1 KB in every format)."""

REGISTRY = MessageRegistry()
REGISTRY.register(Charge, "bench.charge")
REGISTRY.register(Order, "bench.order")


@attrs.frozen
class Row:
    """One format's figures for one message."""

    message: str
    """``small`` or ``large``."""
    format: str
    """The format and how it is called."""
    encode_us: float
    """Microseconds to turn the message into bytes (best run)."""
    decode_us: float
    """Microseconds to turn the bytes back into the message (best run)."""
    size: int
    """Encoded size in bytes."""


Pair = tuple[Callable[[object], bytes], Callable[[bytes], object]]


def _cattrs_pair(
    converter: cattrs.Converter,
    dumps: Callable[[Any], bytes],
    loads: Callable[[bytes], Any],
    cls: type,
) -> Pair:
    unstructure = converter.get_unstructure_hook(cls)
    structure = converter.get_structure_hook(cls)
    return (
        lambda message: dumps(unstructure(message)),
        lambda data: structure(loads(data), cls),
    )


def formats(cls: type) -> dict[str, Pair]:
    """Each format's encode and decode for ``cls``, with converters made once."""
    codec = Codec(REGISTRY)
    name = REGISTRY.name_of(cls)
    return {
        "msgpack (cattrs.preconf.msgpack)": _cattrs_pair(
            make_msgpack_converter(), msgpack.packb, msgpack.unpackb, cls
        ),
        "JSON, stdlib (cattrs.preconf.json)": _cattrs_pair(
            make_json_converter(),
            lambda data: json.dumps(data).encode(),
            json.loads,
            cls,
        ),
        "JSON, orjson (cattrs.preconf.orjson)": _cattrs_pair(
            make_orjson_converter(), orjson.dumps, orjson.loads, cls
        ),
        "trouper Codec.encode / decode": (
            lambda message: codec.encode(message).payload,
            lambda data: codec.decode(name, data),
        ),
        "trouper Codec.encode_blob / decode_blob": (codec.encode_blob, codec.decode_blob),
    }


def measure(number: int, repeat: int) -> list[Row]:
    """Time every format on both messages; check each round-trips first.

    The cells are measured in rounds, every cell once per round, and each
    keeps its best run: a burst of load from elsewhere on the machine then
    slows one run of every cell rather than all the runs of one.
    """
    cells = []
    for label, message in (("small", SMALL), ("large", LARGE)):
        for fmt, (encode, decode) in formats(type(message)).items():
            data = encode(message)
            if decode(data) != message:
                raise AssertionError(f"{fmt} does not round-trip the {label} message")
            cells.append((label, fmt, message, data, encode, decode))
    best = {(label, fmt): [float("inf"), float("inf")] for label, fmt, *_ in cells}
    for _ in range(repeat):
        for label, fmt, message, data, encode, decode in cells:
            times = best[label, fmt]
            times[0] = min(times[0], timeit.timeit(lambda: encode(message), number=number))  # noqa: B023
            times[1] = min(times[1], timeit.timeit(lambda: decode(data), number=number))  # noqa: B023
    return [
        Row(
            label,
            fmt,
            best[label, fmt][0] / number * 1e6,
            best[label, fmt][1] / number * 1e6,
            len(data),
        )
        for label, fmt, _, data, _, _ in cells
    ]


def render(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| message | format | encode µs | decode µs | size B |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {r.message} | {r.format} | {r.encode_us:.2f} | {r.decode_us:.2f} | {r.size} |"
        for r in rows
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.codec_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few runs only (a smoke test)")
    parser.add_argument(
        "--repeat", type=int, default=25, help="rounds; each cell keeps its best run"
    )
    args = parser.parse_args(argv)
    number, repeat = (50, 1) if args.quick else (2_000, args.repeat)
    rows = measure(number, repeat)
    print(f"Python {platform.python_version()} on {platform.machine()}, {number} messages per run")
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
