"""Supervision: strategies, restart kinds, intensity, backoff and child specs.

Pure decision logic, no I/O and no Trio; imports only ``trouper.actors``.
"""

from trouper._exports import publish
from trouper.supervision._spec import ChildInfo, ChildSpec, check_unique_ids
from trouper.supervision._strategy import (
    Backoff,
    Decision,
    Directive,
    OneForAll,
    OneForOne,
    Restart,
    RestForOne,
    Strategy,
    Supervision,
    within_intensity,
)

__all__ = [
    "Backoff",
    "ChildInfo",
    "ChildSpec",
    "Decision",
    "Directive",
    "OneForAll",
    "OneForOne",
    "RestForOne",
    "Restart",
    "Strategy",
    "Supervision",
    "check_unique_ids",
    "within_intensity",
]

publish(__name__, globals())
