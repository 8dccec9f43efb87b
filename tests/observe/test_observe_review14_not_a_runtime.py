"""The view given something that is not a ``trouper.Runtime`` says what it needs."""

from __future__ import annotations

import pytest

from trouper.observe import Observer, open_view


class NotARuntime:
    """Stands for what a user may pass by mistake (``trouper.aio``'s ``AioRuntime``, say)."""

    def __repr__(self) -> str:
        return "<NotARuntime>"


def test_an_observer_refuses_what_is_not_a_runtime() -> None:
    """``Observer(x)`` raises ``TypeError`` naming ``trouper.Runtime`` and ``rt.runtime``."""
    with pytest.raises(
        TypeError,
        match=r"^the view watches a trouper\.Runtime \(from trouper\.aio, pass rt\.runtime\), "
        r"got <NotARuntime>$",
    ):
        Observer(NotARuntime())  # type: ignore[arg-type]


async def test_open_view_refuses_what_is_not_a_runtime() -> None:
    """``open_view(x)`` raises that ``TypeError`` before it listens on anything."""
    with pytest.raises(TypeError, match=r"^the view watches a trouper\.Runtime"):
        async with open_view(NotARuntime(), port=0):  # type: ignore[arg-type]
            pass
