"""Refs in messages: written as their address, read back through the codec's resolver."""

from __future__ import annotations

import re
from typing import cast

import msgpack  # type: ignore[import-untyped]
import pytest
from codec_messages import REGISTRY, WithRefs

from trouper import ActorRef, Address
from trouper.actors import Endpoint
from trouper.codec import Codec, RefResolver
from trouper.errors import MessageMismatch, UndecodableMessage, UnresolvableRef


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


def ref(node: str, path: str) -> ActorRef[object]:
    """A ref to ``node``/``path`` with no endpoint (a codec never sends)."""
    return ActorRef(Address(node, path), cast("Endpoint[object]", None))


def recording_resolver() -> tuple[list[Address], RefResolver]:
    """A resolver that notes each address it is given (in the list) and makes a ref to it."""
    seen: list[Address] = []

    def resolve(address: Address) -> ActorRef[object]:
        seen.append(address)
        return ref(address.node, address.path)

    return seen, resolve


MESSAGE = WithRefs(ref("n1", "/a"), None, [ref("n2", "/b"), ref("n1", "/c")])


def test_refs_are_written_as_their_addresses() -> None:
    """A ref becomes ``{"node", "path"}``; no resolver is needed to encode."""
    payload = Codec(REGISTRY).encode(MESSAGE).payload
    assert msgpack.unpackb(payload) == {
        "reply_to": {"node": "n1", "path": "/a"},
        "maybe": None,
        "several": [{"node": "n2", "path": "/b"}, {"node": "n1", "path": "/c"}],
    }


def test_the_resolver_turns_addresses_back_into_refs() -> None:
    """Each address read goes through the resolver, whose refs end up in the message."""
    seen, resolve = recording_resolver()
    codec = Codec(REGISTRY, resolver=resolve)
    assert codec.resolver is resolve
    encoded = codec.encode(MESSAGE)
    back = codec.decode(encoded.type_name, encoded.payload)
    assert back == MESSAGE
    assert seen == [Address("n1", "/a"), Address("n2", "/b"), Address("n1", "/c")]


def test_without_a_resolver_a_ref_cannot_be_decoded() -> None:
    """A codec without a resolver refuses a payload holding a ref, saying where and which."""
    codec = Codec(REGISTRY)
    encoded = codec.encode(WithRefs(ref("n1", "/a"), None, []))
    with pytest.raises(
        UnresolvableRef,
        match=exactly(
            "payload for 'kit.with-refs' holds a ref to trouper://n1/a in field 'reply_to' "
            "that cannot be resolved: this codec has no resolver"
        ),
    ) as caught:
        codec.decode(encoded.type_name, encoded.payload)
    assert isinstance(caught.value, UndecodableMessage)
    assert isinstance(caught.value, LookupError)


def test_a_failing_resolver_is_reported_with_its_error() -> None:
    """When the resolver raises, the error says so and chains the resolver's error."""

    def resolve(address: Address) -> ActorRef[object]:
        raise KeyError(address.node)

    codec = Codec(REGISTRY, resolver=resolve)
    encoded = codec.encode(WithRefs(ref("n1", "/a"), None, [ref("n9", "/x")]))
    with pytest.raises(
        UnresolvableRef,
        match=exactly(
            "payload for 'kit.with-refs' holds a ref to trouper://n1/a in field 'reply_to' "
            "that cannot be resolved: KeyError(\"'n1'\")"
        ),
    ) as caught:
        codec.decode(encoded.type_name, encoded.payload)
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_bad_ref_among_other_problems_is_one_of_them() -> None:
    """Unresolvable refs next to other mismatches are listed with them."""
    payload = msgpack.packb({"reply_to": {"node": "n1", "path": "/a"}, "maybe": 5, "several": []})
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            "payload for 'kit.with-refs' does not fit codec_messages.WithRefs: "
            "field 'maybe' expected a map of fields, got 5; "
            "field 'reply_to': cannot resolve the ref to trouper://n1/a: this codec has no resolver"
        ),
    ):
        Codec(REGISTRY).decode("kit.with-refs", payload)


def test_an_address_that_is_not_one_is_a_mismatch() -> None:
    """A ref field holding something other than an address map is refused before resolving."""
    calls, resolve = recording_resolver()
    codec = Codec(REGISTRY, resolver=resolve)
    payload = msgpack.packb({"reply_to": {"node": "n1"}, "maybe": None, "several": ["n1/a"]})
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            "payload for 'kit.with-refs' does not fit codec_messages.WithRefs: "
            "missing field 'reply_to.path'; field 'several[0]' expected a map of fields, got 'n1/a'"
        ),
    ):
        codec.decode("kit.with-refs", payload)
    assert calls == []
