"""Exception groups: the one exception a group of one stands for."""

from __future__ import annotations


def single_leaf(error: BaseException) -> BaseException | None:
    """The one exception inside nested one-member groups, or ``None`` if a group holds several.

    An error that is no group is its own leaf. Trio's nurseries put what their
    tasks raise in a group even when it is one exception: callers that treat
    a group of one as that exception read it through here.
    """
    while isinstance(error, BaseExceptionGroup):
        if len(error.exceptions) != 1:
            return None
        error = error.exceptions[0]
    return error
