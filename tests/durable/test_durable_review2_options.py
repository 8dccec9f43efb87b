"""Durable's options and Retry, reviewed again: booleans and strings are not numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from durable_support import CODEC, sqlite

import trouper
from trouper.durable import Durable, DurableQueue, Retry, durable_ref


@pytest.mark.parametrize("option", ["max_deliveries", "capacity", "prefetch"])
def test_a_bool_is_not_a_count(option: str) -> None:
    """``True`` is refused where a count is asked for (it is not the int 1 a user meant)."""
    with pytest.raises(ValueError, match=rf"^{option} must be an int >= 1, got True$"):
        Durable(**{option: True})


def test_a_bool_is_not_a_dedup_window() -> None:
    """``dedup_window=True`` is refused, not read as one second."""
    with pytest.raises(
        ValueError, match=r"^dedup_window must be None or a finite number >= 0, got True$"
    ):
        Durable(dedup_window=True)


@pytest.mark.parametrize("delay", ["1", "x", True, None])
def test_backoff_delays_must_be_numbers(delay: object) -> None:
    """Each explicit delay is a number: a string is not parsed, a bool is not a second."""
    with pytest.raises(
        ValueError, match=rf"^backoff delays must be finite numbers >= 0, got {delay!r}$"
    ):
        Durable(backoff=[1, delay])


@pytest.mark.parametrize("after", ["5", None, True])
def test_retry_after_must_be_a_number(after: object) -> None:
    """``Retry(after=...)`` refuses a non-number with the rule, not a comparison's TypeError."""
    with pytest.raises(ValueError, match=rf"^after must be a finite number >= 0, got {after!r}$"):
        Retry(after=after)  # type: ignore[arg-type]


async def test_options_that_are_not_a_durable_are_refused(tmp_path: Path) -> None:
    """``DurableQueue`` and ``durable_ref`` refuse options that are not ``Durable(...)``."""
    rule = r"^options must be a trouper\.durable\.Durable, got \{'capacity': 1\}$"
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(TypeError, match=rule):
            DurableQueue(rt.store, "box", CODEC, {"capacity": 1})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=rule):
            durable_ref(rt, "box", options={"capacity": 1})  # type: ignore[arg-type]


async def test_a_queue_name_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    """``DurableQueue`` refuses a name that is not a str (a tuple would fail the store)."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(
            TypeError, match=r"^a durable mailbox's name must be a str, got \('a',\)$"
        ):
            DurableQueue(rt.store, ("a",), CODEC)  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [{}, [], 0])
async def test_empty_options_that_are_not_a_durable_are_refused_too(
    tmp_path: Path, options: object
) -> None:
    """``durable_ref(..., options={})`` is refused, not taken for no options (the defaults)."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        with pytest.raises(TypeError, match=r"^options must be a trouper\.durable\.Durable, got "):
            durable_ref(rt, "box", options=options)  # type: ignore[arg-type]
