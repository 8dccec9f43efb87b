"""Review 5: bad arguments to the topic registry raise a clear error instead of being coerced."""

from __future__ import annotations

import pytest
from topic_actors import Idle

from trouper import Runtime
from trouper.runtime import EventKind
from trouper.topics import system_subject


async def test_with_subject_must_be_a_bool(runtime: Runtime) -> None:
    """A with_subject that is not a bool (here the text "no") is refused, not read as True."""
    ref = await runtime.spawn(Idle)
    with pytest.raises(TypeError, match=r"^with_subject must be a bool, got 'no'$"):
        runtime.topics.subscribe(ref, "prices.>", with_subject="no")  # type: ignore[arg-type]
    assert runtime.topics.subscriptions_of(ref) == ()


async def test_subscriptions_of_takes_a_ref(runtime: Runtime) -> None:
    """subscriptions_of a value that is not an ActorRef says so, rather than an AttributeError."""
    with pytest.raises(TypeError, match=r"^expected an ActorRef, got '/worker'$"):
        runtime.topics.subscriptions_of("/worker")  # type: ignore[arg-type]


def test_system_subject_takes_an_event_kind() -> None:
    """system_subject of a plain string says it wants an EventKind, rather than a KeyError."""
    with pytest.raises(TypeError, match=r"^kind must be an EventKind, got 'failed'$"):
        system_subject("failed")  # type: ignore[arg-type]
    assert system_subject(EventKind.FAILED) == "trouper.system.actor.failed"
