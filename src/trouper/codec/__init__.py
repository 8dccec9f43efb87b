"""Messages at the edge: message types registered by stable name, and the codec to bytes and back.

Imports only ``trouper.actors`` (and ``trouper.errors``), attrs and cattrs (with msgpack).
"""

from trouper._exports import publish
from trouper.codec._codec import Codec, Encoded, RefResolver
from trouper.codec._names import MAX_NAME_LENGTH, check_message_name, default_name
from trouper.codec._registry import (
    DEFAULT_REGISTRY,
    MessageRegistry,
    message,
    name_of,
    register,
    type_named,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "MAX_NAME_LENGTH",
    "Codec",
    "Encoded",
    "MessageRegistry",
    "RefResolver",
    "check_message_name",
    "default_name",
    "message",
    "name_of",
    "register",
    "type_named",
]

publish(__name__, globals())
