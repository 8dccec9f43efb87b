"""The message registry: lookups both ways, conflicts, name rules, default names and registry."""

from __future__ import annotations

import re

import attrs
import pytest
from codec_messages import REGISTRY, Charge, Item, PlaceOrder

from trouper import codec
from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageTypeConflict, UnknownMessageType, UnregisteredMessageType


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


@attrs.frozen
class Ping:
    """A message registered only by the tests that need it."""

    n: int


@attrs.frozen
class Pong:
    """A second class, to clash with the first."""

    n: int


def test_lookups_go_both_ways() -> None:
    """``name_of`` and ``type_named`` are inverses for a registered class."""
    assert REGISTRY.name_of(Charge) == "shop.charge"
    assert REGISTRY.type_named("shop.charge") is Charge
    assert "shop.charge" in REGISTRY
    assert Charge in REGISTRY
    assert Item not in REGISTRY


def test_builtin_value_types_have_reserved_names() -> None:
    """Every registry knows the builtin value types by bare names."""
    registry = MessageRegistry()
    builtins = (type(None), bool, int, float, str, bytes, list, dict)
    assert [registry.name_of(t) for t in builtins] == [
        "none", "bool", "int", "float", "str", "bytes", "list", "dict",
    ]  # fmt: skip
    assert registry.type_named("int") is int
    assert registry.names() == sorted(
        ["none", "bool", "int", "float", "str", "bytes", "list", "dict"]
    )


def test_decorator_registers_and_returns_the_class() -> None:
    """``@registry.message(name)`` registers the class and leaves it as it was."""
    registry = MessageRegistry()
    decorated = registry.message("app.ping")(Ping)
    assert decorated is Ping
    assert registry.name_of(Ping) == "app.ping"


def test_default_name_is_module_and_qualified_name() -> None:
    """Without a name, a class is registered as ``module.QualName``."""
    registry = MessageRegistry()
    registry.register(Ping)
    assert registry.name_of(Ping) == "test_message_registry.Ping"


def test_registering_again_the_same_way_changes_nothing() -> None:
    """The same class under the same name twice is not a conflict."""
    registry = MessageRegistry()
    registry.register(Ping, "app.ping")
    registry.register(Ping, "app.ping")
    assert registry.names().count("app.ping") == 1


def test_a_name_cannot_name_two_classes() -> None:
    """A second class under a taken name is refused, naming both classes."""
    registry = MessageRegistry()
    registry.register(Ping, "app.ping")
    with pytest.raises(
        MessageTypeConflict,
        match=exactly(
            "cannot register test_message_registry.Pong as 'app.ping': "
            "'app.ping' already names test_message_registry.Ping"
        ),
    ):
        registry.register(Pong, "app.ping")
    assert registry.type_named("app.ping") is Ping


def test_a_class_cannot_have_two_names() -> None:
    """A registered class under a second name is refused, naming both names."""
    registry = MessageRegistry()
    registry.register(Ping, "app.ping")
    with pytest.raises(
        MessageTypeConflict,
        match=exactly(
            "cannot register test_message_registry.Ping as 'app.pong': "
            "it is already registered as 'app.ping'"
        ),
    ):
        registry.register(Ping, "app.pong")
    assert "app.pong" not in registry


def test_a_class_cannot_change_its_unknown_field_policy() -> None:
    """Registering again with the other ``ignore_unknown_fields`` is a conflict."""
    registry = MessageRegistry()
    registry.register(Ping, "app.ping")
    with pytest.raises(
        MessageTypeConflict,
        match=exactly(
            "cannot register test_message_registry.Ping as 'app.ping': "
            "it is already registered with ignore_unknown_fields=False"
        ),
    ):
        registry.register(Ping, "app.ping", ignore_unknown_fields=True)
    assert not registry.ignores_unknown_fields(Ping)


def test_unknown_names_and_classes_raise_from_the_family() -> None:
    """Looking up what is not registered raises the codec's errors, with exact messages."""
    with pytest.raises(
        UnknownMessageType,
        match=exactly("no message type is registered as 'shop.nope' in this process"),
    ):
        REGISTRY.type_named("shop.nope")
    with pytest.raises(
        UnregisteredMessageType,
        match=exactly(
            "codec_messages.Item is not a registered message type: decorate it with "
            "@trouper.message(name) or call trouper.register(cls)"
        ),
    ):
        REGISTRY.name_of(Item)


def test_subclasses_are_not_registered_by_their_parent() -> None:
    """Lookups are by exact class."""

    @attrs.frozen
    class Special(PlaceOrder):
        pass

    assert Special not in REGISTRY


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        (
            "ping",
            "bare words are reserved for builtin values; use a dotted name such as 'app.ping'",
        ),
        ("int", "bare words are reserved for builtin values; use a dotted name such as 'app.ping'"),
        (
            "shop.place order",
            "' ' at position 10 is not allowed (use ASCII letters, digits, '_', '-' and dots)",
        ),
        (
            "shop.caf\u00e9",
            "'\u00e9' at position 8 is not allowed (use ASCII letters, digits, '_', '-' and dots)",
        ),
        ("shop..charge", "it has an empty part between dots"),
        (".charge", "it has an empty part between dots"),
        ("a." + "b" * 254, "it is longer than 255 characters"),
    ],
)
def test_names_follow_the_rule(name: str, problem: str) -> None:
    """A name is dotted words of ASCII letters, digits, '_' and '-', at most 255 characters."""
    registry = MessageRegistry()
    with pytest.raises(ValueError, match=exactly(f"invalid message type name {name!r}: {problem}")):
        registry.register(Ping, name)
    assert Ping not in registry


def test_valid_names_are_accepted() -> None:
    """Dashes, underscores, digits and many parts are fine."""
    assert codec.check_message_name("shop.place-order") == "shop.place-order"
    assert codec.check_message_name("a.b_c.D-9.x") == "a.b_c.D-9.x"
    assert codec.check_message_name("a." + "b" * 253) == "a." + "b" * 253


def test_a_name_must_be_a_string() -> None:
    """A name of another type is a TypeError."""
    with pytest.raises(TypeError, match=exactly("a message type name must be a str, got 5")):
        codec.check_message_name(5)


def test_classes_defined_in_functions_need_a_name() -> None:
    """No default name is derived for a class whose qualified name has ``<locals>``."""

    @attrs.frozen
    class Local:
        n: int

    registry = MessageRegistry()
    with pytest.raises(
        ValueError,
        match=exactly(
            "cannot derive a message type name for test_message_registry."
            "test_classes_defined_in_functions_need_a_name.<locals>.Local (it is defined "
            "inside a function); give it one, such as register(cls, 'app.thing')"
        ),
    ):
        registry.register(Local)
    registry.register(Local, "app.local")
    assert registry.name_of(Local) == "app.local"


def test_only_attrs_classes_can_be_registered() -> None:
    """Plain classes and non-classes are refused with a TypeError."""

    class Plain:
        pass

    registry = MessageRegistry()
    for thing in (Plain, 5, int):
        with pytest.raises(
            TypeError,
            match=exactly(
                "a message type must be an attrs class (such as one decorated with "
                f"@attrs.frozen), got {thing!r}"
            ),
        ):
            registry.register(thing, "app.thing")  # type: ignore[arg-type]


def test_the_decorator_needs_to_be_called() -> None:
    """``@message`` without its parentheses says how to write it."""
    registry = MessageRegistry()
    with pytest.raises(
        TypeError,
        match=exactly("message() takes the type's name: write @message('app.name') or @message()"),
    ):
        registry.message(Ping)  # type: ignore[arg-type]


def test_the_decorator_checks_its_name_before_any_class() -> None:
    """A bad name fails where the decorator is written."""
    with pytest.raises(ValueError, match=r"^invalid message type name 'bad name'"):
        MessageRegistry().message("bad name")


def test_module_functions_use_the_default_registry() -> None:
    """``message``, ``register``, ``name_of`` and ``type_named`` act on ``DEFAULT_REGISTRY``."""

    @attrs.frozen
    class First:
        n: int

    @attrs.frozen
    class Second:
        n: int

    codec.message("test-codec.first")(First)
    codec.register(Second, "test-codec.second")
    assert codec.name_of(First) == "test-codec.first"
    assert codec.type_named("test-codec.second") is Second
    assert codec.DEFAULT_REGISTRY.name_of(Second) == "test-codec.second"
    assert Codec().registry is codec.DEFAULT_REGISTRY


def test_registries_are_separate() -> None:
    """A class registered in one registry is unknown to another."""
    one, two = MessageRegistry(), MessageRegistry()
    one.register(Ping, "app.ping")
    two.register(Pong, "app.ping")
    assert one.type_named("app.ping") is Ping
    assert two.type_named("app.ping") is Pong
    assert Ping not in codec.DEFAULT_REGISTRY


def test_a_codec_finds_classes_registered_after_it_was_made() -> None:
    """Registration only adds, so a codec made earlier sees later types."""
    registry = MessageRegistry()
    made_before = Codec(registry)
    registry.register(Ping, "app.ping")
    encoded = made_before.encode(Ping(3))
    assert made_before.decode(encoded.type_name, encoded.payload) == Ping(3)
