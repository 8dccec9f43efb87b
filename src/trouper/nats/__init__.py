"""NATS: a Trio-native NATS client (core protocol, reconnects, TLS, a JetStream subset).

Imports only trio, attrs, cattrs and the standard library; it knows nothing of actors.
"""

import contextlib

import attrs

from trouper._exports import publish
from trouper.nats._client import (
    AsyncError,
    Client,
    ClientEvent,
    ClientStatistics,
    Closed,
    Disconnected,
    LameDuck,
    Msg,
    Reconnected,
    Status,
    Subscription,
    SubscriptionStatistics,
    connect,
)
from trouper.nats._errors import (
    AlreadyAcknowledged,
    AuthorizationError,
    ConnectError,
    ConnectionClosed,
    ConnectionLost,
    JetStreamError,
    MaxPayloadExceeded,
    NatsError,
    NoResponders,
    OutboundBufferFull,
    PermissionsViolation,
    ProtocolError,
    ProtocolViolation,
    ReplyTimeout,
    ServerError,
    SlowConsumer,
    StaleConnection,
    SubscriptionClosed,
)
from trouper.nats._jetstream import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    JetStream,
    JsMsg,
    MessageStream,
    MsgMetadata,
    PubAck,
    PublishPipeline,
    PullConsumer,
    PullFeed,
    ReplayPolicy,
    RetentionPolicy,
    SequenceInfo,
    StorageType,
    StreamConfig,
    StreamInfo,
    StreamMsg,
    StreamState,
)
from trouper.nats.protocol import Headers, HeadersLike

__all__ = [
    "AckPolicy",
    "AlreadyAcknowledged",
    "AsyncError",
    "AuthorizationError",
    "Client",
    "ClientEvent",
    "ClientStatistics",
    "Closed",
    "ConnectError",
    "ConnectionClosed",
    "ConnectionLost",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "Disconnected",
    "Headers",
    "HeadersLike",
    "JetStream",
    "JetStreamError",
    "JsMsg",
    "LameDuck",
    "MaxPayloadExceeded",
    "MessageStream",
    "Msg",
    "MsgMetadata",
    "NatsError",
    "NoResponders",
    "OutboundBufferFull",
    "PermissionsViolation",
    "ProtocolError",
    "ProtocolViolation",
    "PubAck",
    "PublishPipeline",
    "PullConsumer",
    "PullFeed",
    "Reconnected",
    "ReplayPolicy",
    "ReplyTimeout",
    "RetentionPolicy",
    "SequenceInfo",
    "ServerError",
    "SlowConsumer",
    "StaleConnection",
    "Status",
    "StorageType",
    "StreamConfig",
    "StreamInfo",
    "StreamMsg",
    "StreamState",
    "Subscription",
    "SubscriptionClosed",
    "SubscriptionStatistics",
    "connect",
]

# Resolve the attrs classes' annotations where they were written (cattrs reads them later,
# from the class's module), then show every public name under trouper.nats.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and attrs.has(_value):
        # A class whose hints name types imported for type checking only is never
        # structured by cattrs: leave it unresolved.
        with contextlib.suppress(NameError):
            attrs.resolve_types(_value)
del _name, _value
publish(__name__, globals())
