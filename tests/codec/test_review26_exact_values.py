"""UUIDs, decimals and timedeltas are carried exactly, and refused strictly when they do not fit."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_review25_support import assert_refused, exactly

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
LABEL = "test_review26_exact_values"
ID = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")
ID_TEXT = "12345678-9abc-4def-8123-456789abcdef"


@REGISTRY.message("review26.payment")
@attrs.frozen
class Payment:
    """One of each, alone, in containers and optional."""

    id: uuid.UUID
    amount: decimal.Decimal
    wait: datetime.timedelta
    ids: list[uuid.UUID] = attrs.field(factory=list)
    prices: dict[str, decimal.Decimal] = attrs.field(factory=dict)
    parent: uuid.UUID | None = None
    fee: decimal.Decimal | None = None
    delay: datetime.timedelta | None = None
    waits: tuple[datetime.timedelta, ...] = ()


def payment(**changes: Any) -> Payment:
    """A payment with every field set, changed as given."""
    fields: dict[str, Any] = {
        "id": ID,
        "amount": decimal.Decimal("12.50"),
        "wait": datetime.timedelta(days=1, seconds=2, microseconds=3),
        "ids": [ID, uuid.UUID(int=0)],
        "prices": {"usd": decimal.Decimal("1E-7"), "eur": decimal.Decimal("-0")},
        "parent": uuid.UUID(int=2**128 - 1),
        "fee": decimal.Decimal("0.000"),
        "delay": datetime.timedelta(microseconds=-1),
        "waits": (datetime.timedelta.max, datetime.timedelta.min),
    }
    fields.update(changes)
    return Payment(**fields)


def written(**changes: Any) -> dict[str, Any]:
    """The fields of ``payment()`` as the codec writes them, changed as given."""
    fields: dict[str, Any] = msgpack.unpackb(CODEC.encode(payment()).payload)
    fields.update(changes)
    return fields


def test_every_value_comes_back_exactly() -> None:
    """Equal, and each Decimal with its own digits and exponent (1.50 is not 1.5)."""
    message = payment()
    back = CODEC.decode("review26.payment", CODEC.encode(message).payload)
    assert isinstance(back, Payment)
    assert back == message
    assert type(back.id) is uuid.UUID
    assert type(back.wait) is datetime.timedelta
    assert [str(back.amount), str(back.fee)] == ["12.50", "0.000"]
    assert {k: str(v) for k, v in back.prices.items()} == {"usd": "1E-7", "eur": "-0"}


def test_the_none_of_an_optional_field_comes_back() -> None:
    """``X | None`` fields left None read back None."""
    message = payment(parent=None, fee=None, delay=None)
    assert CODEC.decode("review26.payment", CODEC.encode(message).payload) == message


def test_the_written_form_is_text_and_three_ints() -> None:
    """A UUID is its canonical text, a Decimal its text, a timedelta [days, seconds, µs]."""
    fields = written()
    assert fields["id"] == ID_TEXT
    assert fields["amount"] == "12.50"
    assert fields["wait"] == [1, 2, 3]
    assert fields["delay"] == [-1, 86399, 999999]
    assert fields["waits"] == [[999999999, 86399, 999999], [-999999999, 0, 0]]
    assert fields["prices"] == {"usd": "1E-7", "eur": "-0"}


@pytest.mark.parametrize(
    "text",
    ["0.0000001", "1e-7", "+1.5", "-.5", "5.", "1E+3"],
)
def test_decimal_text_in_any_spelling_of_the_standard_is_read_exactly(text: str) -> None:
    """Every numeric string of the decimal standard is read, to that very value and exponent."""
    back = CODEC.decode("review26.payment", msgpack.packb(written(amount=text)))
    assert isinstance(back, Payment)
    assert back.amount.as_tuple() == decimal.Decimal(text).as_tuple()


def test_a_uuid_in_upper_case_is_read() -> None:
    """RFC 4122 text is read in either case."""
    back = CODEC.decode("review26.payment", msgpack.packb(written(id=ID_TEXT.upper())))
    assert isinstance(back, Payment)
    assert back.id == ID


UUID_TEXT = "UUID (8-4-4-4-12 hex digits text)"
DECIMAL_TEXT = "Decimal (finite decimal text, such as '12.50' or '1E-7')"
TIMEDELTA = "timedelta ([days, seconds 0-86399, microseconds 0-999999], ints)"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": 5}, f"field 'id' expected {UUID_TEXT}, got 5"),
        ({"id": b"x" * 16}, f"field 'id' expected {UUID_TEXT}, got {b'x' * 16!r}"),
        ({"id": "not-a-uuid"}, f"field 'id' expected {UUID_TEXT}, got 'not-a-uuid'"),
        (
            {"id": "{" + ID_TEXT + "}"},
            f"field 'id' expected {UUID_TEXT}, got '{{{ID_TEXT}}}'",
        ),
        ({"id": ID_TEXT.replace("-", "")}, f"field 'id' expected {UUID_TEXT}, got '{ID.hex}'"),
        (
            {"id": "urn:uuid:" + ID_TEXT},
            f"field 'id' expected {UUID_TEXT}, got 'urn:uuid:{ID_TEXT}'",
        ),
        ({"amount": 1.5}, f"field 'amount' expected {DECIMAL_TEXT}, got 1.5"),
        ({"amount": 15}, f"field 'amount' expected {DECIMAL_TEXT}, got 15"),
        ({"amount": "NaN"}, f"field 'amount' expected {DECIMAL_TEXT}, got 'NaN'"),
        ({"amount": "-Infinity"}, f"field 'amount' expected {DECIMAL_TEXT}, got '-Infinity'"),
        ({"amount": " 1.5"}, f"field 'amount' expected {DECIMAL_TEXT}, got ' 1.5'"),
        ({"amount": "1_000"}, f"field 'amount' expected {DECIMAL_TEXT}, got '1_000'"),
        ({"amount": "\u0661\u0662"}, f"field 'amount' expected {DECIMAL_TEXT}, got '١٢'"),
        (
            {"amount": "1E999999999999999999999999999"},
            f"field 'amount' expected {DECIMAL_TEXT}, got '1E999999999999999999999999999'",
        ),
        ({"wait": 86400}, f"field 'wait' expected {TIMEDELTA}, got 86400"),
        ({"wait": "1 day"}, f"field 'wait' expected {TIMEDELTA}, got '1 day'"),
        ({"wait": [0, 1]}, f"field 'wait' expected {TIMEDELTA}, got [0, 1]"),
        ({"wait": [0, 1.0, 0]}, f"field 'wait' expected {TIMEDELTA}, got [0, 1.0, 0]"),
        ({"wait": [True, 0, 0]}, f"field 'wait' expected {TIMEDELTA}, got [True, 0, 0]"),
        ({"wait": [0, 86400, 0]}, f"field 'wait' expected {TIMEDELTA}, got [0, 86400, 0]"),
        ({"wait": [0, -1, 0]}, f"field 'wait' expected {TIMEDELTA}, got [0, -1, 0]"),
        ({"wait": [0, 0, 10**6]}, f"field 'wait' expected {TIMEDELTA}, got [0, 0, 1000000]"),
        ({"wait": [10**9, 0, 0]}, f"field 'wait' expected {TIMEDELTA}, got [1000000000, 0, 0]"),
        (
            {"ids": [ID_TEXT, "x"]},
            f"field 'ids[1]' expected {UUID_TEXT}, got 'x'",
        ),
        (
            {"prices": {"usd": "1.5", "eur": 2.5}},
            f"field 'prices[\"eur\"]' expected {DECIMAL_TEXT}, got 2.5",
        ),
        ({"parent": 0}, f"field 'parent' expected {UUID_TEXT}, got 0"),
        ({"fee": "sNaN"}, f"field 'fee' expected {DECIMAL_TEXT}, got 'sNaN'"),
        ({"delay": [0, 0]}, f"field 'delay' expected {TIMEDELTA}, got [0, 0]"),
        ({"waits": [[0, 0, 0], 5]}, f"field 'waits[1]' expected {TIMEDELTA}, got 5"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_value_that_does_not_fit_is_refused_naming_its_field(
    changes: dict[str, Any], problem: str
) -> None:
    """Each wrong shape is a mismatch that names the field and what it expected."""
    assert_refused(
        CODEC,
        "review26.payment",
        written(**changes),
        f"payload for 'review26.payment' does not fit {LABEL}.Payment: {problem}",
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"amount": decimal.Decimal("NaN")},
            "field 'amount': Decimal('NaN') is not finite (a Decimal field carries finite "
            "values only)",
        ),
        (
            {"prices": {"usd": decimal.Decimal("-Infinity")}},
            "field 'prices[\"usd\"]': Decimal('-Infinity') is not finite (a Decimal field "
            "carries finite values only)",
        ),
        (
            {"fee": decimal.Decimal("sNaN")},
            "field 'fee': Decimal('sNaN') is not finite (a "
            "Decimal field carries finite values only)",
        ),
        ({"amount": 1.5}, "field 'amount': expected Decimal, got 1.5"),
        ({"id": ID_TEXT}, f"field 'id': expected UUID, got '{ID_TEXT}'"),
        ({"wait": 5}, "field 'wait': expected timedelta, got 5"),
        ({"ids": [ID, ID.int]}, f"field 'ids[1]': expected UUID, got {ID.int}"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_value_that_would_not_come_back_is_refused_at_encode(
    changes: dict[str, Any], problem: str
) -> None:
    """Non-finite decimals, and values of another type, are refused by the sender."""
    with pytest.raises(
        UnencodableMessage, match=exactly(f"cannot encode {LABEL}.Payment: {problem}")
    ):
        CODEC.encode(payment(**changes))


class Ticket(uuid.UUID):
    """A subclass of UUID with a str of its own, which the codec does not write."""

    def __str__(self) -> str:
        return "ticket"


@REGISTRY.message("review26.ticketed")
@attrs.frozen
class Ticketed:
    """A UUID field that holds a subclass of UUID."""

    id: uuid.UUID


def test_a_subclass_of_uuid_is_written_as_a_uuid() -> None:
    """A UUID subclass's own ``__str__`` is not what is written: it reads back as a UUID."""
    encoded = CODEC.encode(Ticketed(Ticket(ID_TEXT)))
    assert msgpack.unpackb(encoded.payload) == {"id": ID_TEXT}
    back = CODEC.decode(encoded.type_name, encoded.payload)
    assert isinstance(back, Ticketed)
    assert type(back.id) is uuid.UUID
    assert back.id == ID


@settings(max_examples=200, deadline=None)
@given(
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.timedeltas(),
)
def test_any_finite_value_round_trips_exactly(
    id: uuid.UUID, amount: decimal.Decimal, wait: datetime.timedelta
) -> None:
    """Any UUID, finite Decimal (digits and exponent) and timedelta comes back as it went."""
    encoded = CODEC.encode(payment(id=id, amount=amount, wait=wait))
    back = CODEC.decode(encoded.type_name, encoded.payload)
    assert isinstance(back, Payment)
    assert (back.id, back.wait) == (id, wait)
    assert back.amount.as_tuple() == amount.as_tuple()
