"""What nodes exchange, as data: subjects, frames, replies and errors, for tools and tests.

Like ``trouper.runtime.lowlevel``: public so that a tool reading or writing a
cluster's traffic (or a test that feeds a node a frame of its own) needs no
private module, but not for applications, and it may change between
releases. The rules (the subjects under the cluster's prefix, a frame's two
incarnations and its numbered entries, a reply's status byte, errors as
data and never unpickled) are written up in ``docs/distribution.md`` and in
the source of ``trouper.remote._wire``, which this module exports.
"""

from trouper._exports import publish
from trouper.remote._wire import (
    ENTRY,
    FAILED,
    FRAME_HEAD,
    NO_INCARNATION,
    OK,
    REF,
    WireError,
    actor_subject,
    check_token,
    error_from_wire,
    error_to_wire,
    frame,
    pack,
    path_of_token,
    read_entries,
    unpack,
)

__all__ = [
    "ENTRY",
    "FAILED",
    "FRAME_HEAD",
    "NO_INCARNATION",
    "OK",
    "REF",
    "WireError",
    "actor_subject",
    "check_token",
    "error_from_wire",
    "error_to_wire",
    "frame",
    "pack",
    "path_of_token",
    "read_entries",
    "unpack",
]

publish(__name__, globals(), private_package="trouper.remote")
