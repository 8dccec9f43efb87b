"""Review: a ``Supervisor`` refuses its children given as a one-shot iterator.

The factory's arguments build every instance: a generator of specs was used
up by the first one, and the supervisor restarted after a failure started
no child at all, silently.
"""

from __future__ import annotations

import re

import pytest

import trouper
from trouper import Actor, ChildSpec, Supervisor
from trouper.runtime import WhichChildren


class Worker(Actor):
    """Does nothing."""


def test_specs_from_a_generator_are_refused() -> None:
    """A generator (any iterator) is a ``ValueError`` that says why."""
    specs = (ChildSpec(f"w{i}", Worker) for i in range(2))
    message = (
        "children must be a list or tuple of ChildSpec values, not an iterator: "
        "each instance of the supervisor (a restart builds a new one) starts them, "
        f"and an iterator is used up by the first; got {specs!r}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Supervisor(specs)  # type: ignore[arg-type]  # (the misuse under test)


async def test_a_restarted_supervisor_starts_its_specs_again() -> None:
    """Given as a list, the specs are all started again by the new instance."""
    async with trouper.open_runtime() as rt:
        specs = [ChildSpec(f"w{i}", Worker) for i in range(2)]
        sup = await rt.spawn(Supervisor, specs, name="sup")
        await rt.restart(sup)
        assert [info.id for info in await sup.ask(WhichChildren())] == ["w0", "w1"]
