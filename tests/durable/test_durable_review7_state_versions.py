"""Durable state across versions of its class, reviewed: a saved state that no longer fits."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable
from trouper.errors import MessageMismatch, StartFailed


@attrs.define
class TillV1:
    """Durable state, first version."""

    items: int = 0
    coupon: str = ""


@attrs.define
class TillV2:
    """Durable state, second version: ``coupon`` renamed ``code`` (the class is strict)."""

    items: int = 0
    code: str = ""


class TillOne(trouper.Actor):
    """Counts items in the first version of its state."""

    state: TillV1

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.items += message.total
        self.state.coupon = message.order_id
        return self.state.items


class TillTwo(trouper.Actor):
    """Counts items in the second version of its state."""

    state: TillV2

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.items += message.total
        return self.state.items


async def test_a_saved_state_that_no_longer_fits_its_class_fails_the_start_saying_so(
    tmp_path: Path,
) -> None:
    """A renamed field: the start fails naming the mailbox, the field and what to do."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(TillOne, name="till", mailbox=Durable())
        assert await ref.ask(Charge("c-1", 2)) == 2
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(StartFailed) as caught:
            await rt.spawn(TillTwo, name="till", mailbox=Durable())
        error = caught.value.__cause__
        assert isinstance(error, TypeError)
        assert str(error) == (
            "the state saved for 'till' does not fit TillV2 now (payload for 'trouper.state' "
            "does not fit test_durable_review7_state_versions.TillV2: unexpected field "
            "'coupon'): give a new field a default, and register a class that lost a field "
            "with @trouper.message(name, ignore_unknown_fields=True)"
        )
        assert isinstance(error.__cause__, MessageMismatch)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(TillOne, name="till", mailbox=Durable())
        assert await ref.ask(Charge("c-2", 3)) == 5  # the saved state is kept as it was
