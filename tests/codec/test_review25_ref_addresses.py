"""An unresolvable ref's address, read from an untrusted payload, is cut in a mismatch's text."""

from __future__ import annotations

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper import ActorRef, Address
from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()


@REGISTRY.message("review25.fan-out")
@attrs.frozen
class FanOut:
    """Where to send copies."""

    targets: list[ActorRef[int]]


def refuse(address: Address) -> ActorRef[object]:
    """A resolver that knows no actor, and says which address it was given."""
    raise LookupError(f"no actor at {address}")


LONG = "/" + "x" * 10_000
PAYLOAD = msgpack.packb({"targets": [{"node": "n1", "path": LONG}, 5]})


@pytest.mark.parametrize("resolver", [None, refuse])
def test_a_long_address_is_cut_like_a_value(resolver: object) -> None:
    """A 10 KB path is shown as its first 60 characters, in the address and the resolver's words."""
    codec = Codec(REGISTRY, resolver=resolver)  # type: ignore[arg-type]
    with pytest.raises(MessageMismatch) as raised:
        codec.decode("review25.fan-out", PAYLOAD)
    text = str(raised.value)
    assert len(text) < 600
    cut = "trouper://n1/" + "x" * 44 + "..."
    assert f"field 'targets[0]': cannot resolve the ref to {cut}: " in text
    assert "field 'targets[1]' expected a map of fields, got 5" in text
