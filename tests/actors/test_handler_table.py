"""The handler table: built when a class is created, misuse caught there."""

from __future__ import annotations

import typing

import attrs
import pytest

import trouper
from trouper import Actor, handler


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Withdraw:
    amount: int


@attrs.frozen
class Audit:
    pass


@attrs.frozen
class LargeDeposit(Deposit):
    pass


class Account(Actor):
    @handler
    async def deposit(self, message: Deposit) -> str:
        return "deposit"

    @handler
    async def change(self, message: Withdraw | Audit) -> str:
        return "change"


def _handler_name(actor_class: type[Actor], message_type: type) -> str | None:
    found = actor_class.handler_for(message_type)
    return None if found is None else found.__name__


def test_annotation_selects_the_message_type() -> None:
    """Each handler's annotation names the types dispatched to it, unions included."""
    assert _handler_name(Account, Deposit) == "deposit"
    assert _handler_name(Account, Withdraw) == "change"
    assert _handler_name(Account, Audit) == "change"


def test_subclass_of_a_message_reaches_the_base_handler() -> None:
    """A message whose class derives from a handled class is dispatched along its MRO."""
    assert _handler_name(Account, LargeDeposit) == "deposit"
    assert Account.handles(LargeDeposit)
    assert not Account.handles(int)


def test_subclasses_inherit_and_override_handlers() -> None:
    """A subclass keeps its parent's handlers and can replace one, by type or by name."""

    class Audited(Account):
        @handler
        async def audit(self, message: Audit) -> str:
            return "audit"

    class Renamed(Account):
        async def deposit(self, message: Deposit) -> str:
            return "overridden by name"

    assert _handler_name(Audited, Audit) == "audit"
    assert _handler_name(Audited, Withdraw) == "change"
    assert _handler_name(Audited, Deposit) == "deposit"
    assert Renamed.handler_for(Deposit) is Renamed.deposit


def test_receive_takes_what_no_handler_takes() -> None:
    """An ``async def receive`` is the catch-all for unhandled types."""

    class Catcher(Account):
        async def receive(self, message: object) -> str:
            return "receive"

    assert _handler_name(Catcher, int) == "receive"
    assert _handler_name(Catcher, Deposit) == "deposit"


def test_local_message_classes_resolve_with_postponed_annotations() -> None:
    """Annotations naming local classes resolve under ``from __future__ import annotations``."""

    @attrs.frozen
    class Local:
        pass

    class Holder(Actor):
        @handler
        async def local(self, message: Local) -> None:
            pass

    assert _handler_name(Holder, Local) == "local"


def test_handler_that_is_not_async_is_rejected() -> None:
    """A sync method marked @handler raises TypeError naming class and method."""
    with pytest.raises(TypeError, match=r"^Bad\.sync is marked @handler but is not an async def$"):

        class Bad(Actor):
            @handler  # type: ignore[type-var]
            def sync(self, message: Deposit) -> None:
                pass


def test_handler_without_annotation_is_rejected() -> None:
    """A message parameter without annotation raises TypeError naming class and method."""
    with pytest.raises(TypeError, match=r"^Bad\.bare has no annotation on 'message': annotate"):

        class Bad(Actor):
            @handler
            async def bare(self, message) -> None:  # type: ignore[no-untyped-def]
                pass


def test_annotation_that_is_not_a_class_is_rejected() -> None:
    """An annotation that is not a class or union of classes raises TypeError."""
    with pytest.raises(
        TypeError, match=r"^Bad\.listy: the message annotation must be a class or a union"
    ):

        class Bad(Actor):
            @handler
            async def listy(self, message: list[int]) -> None:
                pass


def test_two_handlers_for_one_type_are_rejected() -> None:
    """Two handlers of one class for the same type raise TypeError naming both."""
    with pytest.raises(
        TypeError, match=r"^Bad\.second and Bad\.first both handle Deposit: one type, one handler$"
    ):

        class Bad(Actor):
            @handler
            async def first(self, message: Deposit) -> None:
                pass

            @handler
            async def second(self, message: Deposit | Audit) -> None:
                pass


def test_handler_with_wrong_arity_is_rejected() -> None:
    """A handler must take exactly one message parameter."""
    with pytest.raises(TypeError, match=r"^Bad\.two must take exactly one message parameter"):

        class Bad(Actor):
            @handler
            async def two(self, message: Deposit, extra: int) -> None:
                pass


def test_unresolvable_annotation_is_rejected() -> None:
    """A forward reference that names nothing raises TypeError, not NameError."""
    with pytest.raises(TypeError, match=r"^Bad\.ghost: cannot resolve the message annotation"):

        class Bad(Actor):
            @handler
            async def ghost(self, message: Nowhere) -> None:  # type: ignore[name-defined]  # noqa: F821
                pass


def test_sync_receive_is_rejected() -> None:
    """A catch-all ``receive`` must be async."""
    with pytest.raises(TypeError, match=r"^Bad\.receive must be an async def$"):

        class Bad(Actor):
            def receive(self, message: object) -> None:
                pass


def test_ctx_outside_a_runtime_says_so() -> None:
    """An actor built by hand has no context, and says why."""
    with pytest.raises(RuntimeError, match=r"^Account is not running in a runtime"):
        _ = Account().ctx


def test_handler_stays_an_ordinary_method() -> None:
    """The decorator returns the function itself, callable directly."""
    assert Account.deposit.__name__ == "deposit"
    assert trouper.handler(Account.deposit) is Account.deposit


@pytest.mark.parametrize("annotation", ["typing.Any", "object"])
def test_catch_all_annotation_is_refused_and_points_to_receive(annotation: str) -> None:
    """A handler annotated ``Any`` or ``object`` would match everything: refused, naming receive."""
    namespace: dict[str, object] = {"Actor": Actor, "handler": handler, "typing": typing}
    source = (
        "class Greedy(Actor):\n"
        "    @handler\n"
        f"    async def take(self, message: {annotation}) -> None:\n"
        "        pass\n"
    )
    name = "Any" if annotation == "typing.Any" else "object"
    with pytest.raises(
        TypeError,
        match=(
            rf"^Greedy\.take: the message annotation {name} would take every message: "
            r"name the message classes it handles, or define `async def receive\(self, "
            r"message\)` to take the messages no handler takes$"
        ),
    ):
        exec(source, namespace)


async def test_an_unmarked_method_is_named_when_its_message_goes_unhandled() -> None:
    """A method that would take the message but lacks @handler is named in the error."""

    class Forgetful(Actor):
        async def deposit(self, message: Deposit) -> str:  # no @handler
            return "never"

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Forgetful)
        with pytest.raises(
            trouper.UnhandledMessage,
            match=(
                r"has no handler for test_handler_table\.Deposit \(Forgetful\.deposit takes "
                r"Deposit but is not marked @handler\)$"
            ),
        ):
            await ref.ask(Deposit(1))
        assert rt.dead_letters.recent[-1].reason == "unhandled message"
