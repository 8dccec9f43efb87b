"""Letting go of a reported failure's frames: its traceback stays, its local variables go.

A failure's traceback holds the frames it went through, and each frame its
local variables: the failed instance (``self``), the message, whatever the
handler had built. The engine hands the error on (to the asker, the dead
letter, the supervisor, watchers), and some keep it for long (a stopped
actor's ``stop_reason``, the dead-letter office's ``recent``); once everyone
owed it has had it, ``release_frames`` clears the finished frames, as
``traceback.clear_frames`` does, so that the error and its printed traceback
stay and the objects its frames held can be freed.

Layers above call ``release_frames_unless_failing`` (``trouper.runtime.lowlevel``)
for the errors they report (a router's, a subscriber endpoint's), as the engine
does for a handler's failure: while ``Runtime.failing`` the frames stay, for
post-mortem debugging of the error that will leave ``open_runtime``.
"""

from __future__ import annotations

import contextlib
import gc
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trouper.runtime._runtime import Runtime

__all__ = ["release_frames", "release_frames_unless_failing"]


def release_frames_unless_failing(runtime: Runtime, error: BaseException) -> None:
    """``release_frames(error)``, unless ``runtime`` is failing.

    For an error reported to everyone owed it (a dead letter's, a failure
    its supervisor has dealt with): its finished frames' locals go. A failed
    runtime raises its error out of ``open_runtime``: then they stay, for
    post-mortem debugging.
    """
    if not runtime.failing:
        release_frames(error)


def release_frames(error: BaseException) -> None:
    """Clear the local variables of the finished frames in ``error``'s tracebacks.

    Follows ``__cause__``, ``__context__`` and the members of exception
    groups. The error, its traceback (files, lines, functions: what
    ``traceback.format_exception`` prints) and its chain are unchanged.

    A frame that still runs, or is suspended (a coroutine awaiting, which
    caught the error earlier and has not finished), is left alone: before
    Python 3.13, ``frame.clear()`` on a suspended coroutine's frame closes the
    coroutine. A finished frame is one that owns its variables, which shows
    in what it refers to: its code object among them.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if _finished(frame):
                with contextlib.suppress(RuntimeError):  # still running after all
                    frame.clear()
            tb = tb.tb_next
        pending.append(current.__cause__)
        pending.append(current.__context__)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def _finished(frame: FrameType) -> bool:
    code = frame.f_code
    return any(referent is code for referent in gc.get_referents(frame))
