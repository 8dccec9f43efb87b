"""Review 9: ``release_frames_unless_failing``, the one step of each site reporting an error."""

from __future__ import annotations

import gc
import weakref

import trouper
from trouper.runtime import Runtime
from trouper.runtime.lowlevel import release_frames_unless_failing


class Big:
    """Stands for what a frame that raised holds in a local variable."""


def _raised(kept: list[weakref.ref[Big]]) -> ValueError:
    def build() -> None:
        big = Big()
        kept.append(weakref.ref(big))
        raise ValueError("router failed")

    try:
        build()
    except ValueError as error:
        return error
    raise AssertionError("unreachable")


def _freed(kept: list[weakref.ref[Big]]) -> bool:
    gc.collect()
    return all(ref() is None for ref in kept)


async def test_a_reported_error_lets_its_frames_go_while_the_runtime_runs() -> None:
    """The error and its traceback stay; what its finished frames held is freed."""
    kept: list[weakref.ref[Big]] = []
    async with trouper.open_runtime() as rt:
        error = _raised(kept)
        release_frames_unless_failing(rt, error)
        assert _freed(kept)
        assert error.__traceback__ is not None


def test_a_failing_runtime_keeps_the_frames_for_post_mortem_debugging() -> None:
    """While the runtime fails (its error will leave ``open_runtime``), nothing is cleared."""
    kept: list[weakref.ref[Big]] = []
    rt = Runtime()
    rt.fail(RuntimeError("escalated"))
    error = _raised(kept)
    release_frames_unless_failing(rt, error)
    assert not _freed(kept)
