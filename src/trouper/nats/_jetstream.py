"""The JetStream subset: streams, consumers, acknowledged publishes, pull consumers, acks.

Theory of operation
-------------------
JetStream is JSON request/reply on ``$JS.API.>``: every management call here
is one ``Client.request`` whose answer is either the expected object or
``{"error": {"code", "err_code", "description"}}``, turned into
``JetStreamError``. Configs are frozen attrs values converted by a cattrs
converter made for this module (never cattrs' global one): durations are
seconds (floats) in Python and nanoseconds on the wire, enums are their
string values, ``None`` fields are left out, and keys the server adds that
we do not model are ignored.

A publish with acknowledgement is a request whose reply is a ``PubAck``. A
``PublishPipeline`` sends many without waiting for each: each publish takes a
slot (waiting while ``max_in_flight`` are unacknowledged) and its reply frees
it; leaving the pipeline's ``async with`` waits for every ack and raises the
first failure.

A pull (``PullConsumer.fetch``) publishes one ``CONSUMER.MSG.NEXT`` request
whose reply subject is a fresh inbox with a subscription of its own (pulled
messages keep their stream subjects, so only the subscription tells them
apart); its callback collects messages until the batch is full or a status
message ends the request (404 no messages, 408 request expired, 409 a
terminal condition). The metadata of
each message (stream, consumer, delivery count, sequences, time, pending) is
parsed from its ``$JS.ACK`` reply subject, to which the acks are published.
A message with no ``$JS.ACK`` reply is no delivery (a stray publish to the
inbox): it is dropped and the first of each puller is reported as
``AsyncError(JetStreamError)``; a ``$JS.ACK`` subject that does not parse
ends the pull (``_delivery``).
"""

from __future__ import annotations

import base64
import enum
import json
import math
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeGuard, TypeVar

import attrs
import cattrs
import outcome
import trio
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from trio.lowlevel import ParkingLot, cancel_shielded_checkpoint, checkpoint_if_cancelled

from trouper._validate import check_positive_int
from trouper._waiting import Waiter
from trouper.nats._client import AsyncError, Msg, Status, Subscription, _check_callback
from trouper.nats._errors import (
    AlreadyAcknowledged,
    ConnectionClosed,
    JetStreamError,
    NatsError,
    NoResponders,
    OutboundBufferFull,
)
from trouper.nats.protocol import (
    Headers,
    HeadersLike,
    _check_value,
    _is_count,
    encode_headers,
    parse_header_block,
)

if TYPE_CHECKING:
    from trouper.nats._client import Client

__all__ = [
    "AckPolicy",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "JetStream",
    "JsMsg",
    "MessageStream",
    "MsgMetadata",
    "PubAck",
    "PublishPipeline",
    "PullConsumer",
    "PullFeed",
    "ReplayPolicy",
    "RetentionPolicy",
    "SequenceInfo",
    "StorageType",
    "StreamConfig",
    "StreamInfo",
    "StreamMsg",
    "StreamState",
    "converter",
]

_T = TypeVar("_T")

_NANOS: Final = 1_000_000_000
_PULL_GRACE: Final = 2.0
"""Seconds past a pull's expiry after which fetch() stops waiting for the server's end."""
_REFUSED_PAUSE: Final = 0.05
"""Seconds before pulling again after a pull refused for now (409 Exceeded MaxWaiting...)."""
_REFUSED_PAUSE_MAX: Final = 1.0
"""The longest such pause: it doubles with each refusal in a row, up to this."""
_MAX_NANOS: Final = 2**63 - 1
"""The longest duration the server takes: it holds durations as int64 nanoseconds (~292 years)."""
_DURATION: Final = "nats_duration"
"""Field metadata key: the field is seconds in Python and nanoseconds on the wire."""


def _subjects(values: Iterable[str]) -> tuple[str, ...]:
    """``StreamConfig.subjects`` as a tuple; one string is refused, not split into characters.

    (``tuple("ab")`` is ``("a", "b")``: a stream on those two subjects.)
    """
    if isinstance(values, str | bytes):
        raise TypeError(
            f"subjects must be a sequence of subjects, got the string {values!r} "
            f"(write subjects=[{values!r}])"
        )
    return tuple(values)


def _floats(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(values)


def _seconds(default: float | None) -> Any:
    return attrs.field(default=default, metadata={_DURATION: True})


class RetentionPolicy(enum.Enum):
    """When a stream lets go of its messages."""

    LIMITS = "limits"
    """Only when its limits (count, bytes, age) say so."""
    INTEREST = "interest"
    """When every consumer has acknowledged them."""
    WORK_QUEUE = "workqueue"
    """When one consumer has acknowledged them (each message is consumed once)."""


class StorageType(enum.Enum):
    """Where a stream keeps its messages."""

    FILE = "file"
    """On disk (survives a server restart)."""
    MEMORY = "memory"
    """In memory."""


class DiscardPolicy(enum.Enum):
    """What a full stream does with a new message."""

    OLD = "old"
    """Drops its oldest messages."""
    NEW = "new"
    """Refuses the new one (the publish gets an error)."""


class DeliverPolicy(enum.Enum):
    """Where a new consumer starts in its stream."""

    ALL = "all"
    """At the first message."""
    LAST = "last"
    """At the last message."""
    NEW = "new"
    """At messages published after it was made."""
    BY_START_SEQUENCE = "by_start_sequence"
    """At ``opt_start_seq``."""
    BY_START_TIME = "by_start_time"
    """At the first message stored at or after ``opt_start_time``."""
    LAST_PER_SUBJECT = "last_per_subject"
    """At the last message of each subject."""


class AckPolicy(enum.Enum):
    """How a consumer's messages are acknowledged."""

    EXPLICIT = "explicit"
    """Each message by itself."""
    NONE = "none"
    """Not at all (delivered once, at most)."""
    ALL = "all"
    """Acking one acknowledges every earlier one too."""


class ReplayPolicy(enum.Enum):
    """How fast a consumer replays stored messages."""

    INSTANT = "instant"
    """As fast as it can."""
    ORIGINAL = "original"
    """At the pace they were published."""


@attrs.frozen
class StreamConfig:
    """A stream's configuration (``add_stream``, ``update_stream``); defaults are the server's."""

    name: str
    """The stream's name (no dots, spaces, ``*`` or ``>``)."""
    subjects: tuple[str, ...] = attrs.field(default=(), converter=_subjects)
    """The subjects (patterns allowed) whose messages it stores (a list: one string is refused)."""
    description: str | None = None
    """Free text."""
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    """When messages are let go."""
    max_consumers: int = -1
    """Consumers allowed (-1: no limit)."""
    max_msgs: int = -1
    """Messages kept (-1: no limit)."""
    max_bytes: int = -1
    """Bytes kept (-1: no limit)."""
    max_age: float = _seconds(0.0)
    """Seconds a message is kept (0: for ever)."""
    max_msgs_per_subject: int = -1
    """Messages kept per subject (-1: no limit)."""
    max_msg_size: int = -1
    """Largest message accepted (-1: the server's max_payload)."""
    storage: StorageType = StorageType.FILE
    """Disk or memory."""
    discard: DiscardPolicy = DiscardPolicy.OLD
    """What a full stream does."""
    discard_new_per_subject: bool = False
    """With ``discard`` NEW and ``max_msgs_per_subject``: refuse a message to a full subject."""
    num_replicas: int = 1
    """Copies kept in a cluster."""
    duplicate_window: float = _seconds(120.0)
    """Seconds during which a ``Nats-Msg-Id`` already seen is refused as a duplicate."""
    no_ack: bool = False
    """Whether publishes are not acknowledged."""
    deny_delete: bool = False
    """Whether deleting single messages is refused."""
    deny_purge: bool = False
    """Whether purging is refused."""
    allow_rollup_hdrs: bool = False
    """Whether ``Nats-Rollup`` headers may purge a subject."""


@attrs.frozen
class ConsumerConfig:
    """A consumer's configuration (``add_consumer``, ``pull_subscribe``); defaults are the server's.

    The lead's durable mailboxes need ``max_deliver`` (deliveries before the
    server gives up; it then emits the
    ``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`` advisory),
    ``ack_wait`` and ``backoff`` (redelivery delays).
    """

    durable_name: str | None = None
    """A durable consumer's name (it outlives its clients); ``None`` for an ephemeral one."""
    name: str | None = None
    """The consumer's name if not durable (the server makes one up if ``None``)."""
    description: str | None = None
    """Free text."""
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    """Where it starts."""
    opt_start_seq: int | None = None
    """The first stream sequence, with ``DeliverPolicy.BY_START_SEQUENCE``."""
    ack_policy: AckPolicy = AckPolicy.EXPLICIT
    """How messages are acknowledged."""
    ack_wait: float = _seconds(30.0)
    """Seconds without an ack after which a message is delivered again."""
    max_deliver: int = -1
    """Deliveries of one message before the server stops trying (-1: no limit)."""
    backoff: tuple[float, ...] = attrs.field(
        default=(), converter=_floats, metadata={_DURATION: True}
    )
    """Seconds before each redelivery (overrides ``ack_wait``; at most ``max_deliver`` long)."""
    filter_subject: str | None = None
    """Only messages on this subject (pattern) of the stream."""
    replay_policy: ReplayPolicy = ReplayPolicy.INSTANT
    """How fast stored messages are replayed."""
    max_waiting: int = 512
    """Pull requests that may wait at once."""
    max_ack_pending: int = 1000
    """Messages delivered and not yet acknowledged, at most (-1: no limit)."""
    inactive_threshold: float | None = _seconds(None)
    """Seconds without activity after which the server deletes the consumer."""
    headers_only: bool = False
    """Deliver headers only, without payloads."""
    mem_storage: bool = False
    """Keep the consumer's state in memory."""
    num_replicas: int = 0
    """Copies of its state in a cluster (0: as the stream)."""
    opt_start_time: str | None = None
    """The start time, RFC 3339 text (``"2024-05-01T12:00:00Z"``), with ``BY_START_TIME``."""


@attrs.frozen
class StreamState:
    """What a stream holds now."""

    messages: int = 0
    """Messages stored."""
    bytes: int = 0
    """Bytes stored."""
    first_seq: int = 0
    """Sequence of the first message stored."""
    last_seq: int = 0
    """Sequence of the last message stored."""
    consumer_count: int = 0
    """Consumers of the stream."""


@attrs.frozen
class StreamInfo:
    """A stream's configuration and state, as the server reports it."""

    config: StreamConfig
    """Its configuration (with the server's defaults filled in)."""
    state: StreamState
    """What it holds."""
    created: str = ""
    """When it was made (RFC 3339 text)."""


@attrs.frozen
class SequenceInfo:
    """A position in a consumer's and its stream's sequences."""

    consumer_seq: int = 0
    """The consumer's sequence number."""
    stream_seq: int = 0
    """The stream's sequence number."""


@attrs.frozen
class ConsumerInfo:
    """A consumer's configuration and progress, as the server reports it."""

    stream_name: str
    """Its stream."""
    name: str
    """Its name."""
    config: ConsumerConfig
    """Its configuration."""
    delivered: SequenceInfo = SequenceInfo()
    """The last message delivered."""
    ack_floor: SequenceInfo = SequenceInfo()
    """The last message acknowledged together with every earlier one."""
    num_ack_pending: int = 0
    """Messages delivered and not acknowledged."""
    num_redelivered: int = 0
    """Messages delivered more than once."""
    num_waiting: int = 0
    """Pull requests waiting."""
    num_pending: int = 0
    """Messages not yet delivered."""


@attrs.frozen
class PubAck:
    """The server's acknowledgement of a JetStream publish."""

    stream: str
    """The stream that stored the message."""
    seq: int
    """Its sequence number in the stream."""
    duplicate: bool = False
    """Whether its ``Nats-Msg-Id`` was seen within the duplicate window (so not stored again)."""
    domain: str | None = None
    """The JetStream domain, if any."""


@attrs.frozen
class StreamMsg:
    """A message read straight from a stream by its sequence or subject (``JetStream.get_msg``)."""

    subject: str
    """The subject it was published on."""
    seq: int
    """Its sequence in the stream."""
    data: bytes
    """The payload."""
    headers: Headers | None
    """Its headers, if it had any."""
    time: str
    """When it was stored (RFC 3339 text, as the server gives it)."""


@attrs.frozen
class MsgMetadata:
    """A JetStream message's delivery facts, parsed from its ``$JS.ACK`` reply subject."""

    stream: str
    """The stream it comes from."""
    consumer: str
    """The consumer that delivered it."""
    num_delivered: int
    """How many times it has been delivered, this time included (1 on the first)."""
    stream_seq: int
    """Its sequence in the stream."""
    consumer_seq: int
    """Its sequence in the consumer's deliveries."""
    timestamp: float
    """When it was stored, seconds since the epoch."""
    num_pending: int
    """Messages still waiting for this consumer after this one."""
    domain: str | None = None
    """The JetStream domain, if any."""

    @classmethod
    def from_reply(cls, reply: str) -> MsgMetadata:
        """Parse ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>``.

        The longer form with a domain and an account hash is understood too.

        Its five numbers are ASCII digits, as the server writes them (``int()``
        alone would also read ``-1``, ``1_0`` or other scripts' digits).

        Raises:
            ValueError: ``reply`` is not a JetStream ack subject, or one of its
                numbers is not ASCII digits.
        """
        tokens = reply.split(".")
        if len(tokens) == 9 and tokens[:2] == ["$JS", "ACK"]:
            domain = None
            stream, consumer, *numbers = tokens[2:]
        elif len(tokens) >= 11 and tokens[:2] == ["$JS", "ACK"]:
            domain = None if tokens[2] == "_" else tokens[2]
            stream, consumer, *numbers = tokens[4:11]
        else:
            raise ValueError(f"not a JetStream ack subject: {reply!r}")
        for number in numbers:
            if not _is_count(number):
                raise ValueError(
                    f"not a JetStream ack subject: {reply!r} "
                    f"(its numbers must be ASCII digits, got {number!r})"
                )
        delivered, stream_seq, consumer_seq, nanos, pending = (int(n) for n in numbers)
        return cls(
            stream,
            consumer,
            delivered,
            stream_seq,
            consumer_seq,
            nanos / _NANOS,
            pending,
            domain,
        )


@attrs.define(eq=False)
class _AckState:
    # How the message was settled ("" while not): acks after that are refused.
    settled: str = ""


@attrs.frozen
class JsMsg:
    """A message delivered by a JetStream consumer; settle it with one of the ack methods.

    ``ack()``, ``nak()`` and ``term()`` settle it (a second one raises
    ``AlreadyAcknowledged``); ``in_progress()`` may be sent any number of
    times before. Each is one publish on the message's reply subject, at most
    once like any core publish: if it is lost, the server delivers the message
    again after ``ack_wait`` (at-least-once).
    """

    subject: str
    """The subject it was published on."""
    reply: str
    """Its ``$JS.ACK`` subject, where acks go."""
    data: bytes
    """The payload."""
    headers: Headers | None
    """Its headers."""
    metadata: MsgMetadata
    """Stream, consumer, delivery count, sequences, time, pending."""
    _client: Client = attrs.field(eq=False, repr=False)
    _state: _AckState = attrs.field(factory=_AckState, eq=False, repr=False)

    async def _settle(self, how: str, payload: bytes) -> None:
        await checkpoint_if_cancelled()
        if self._state.settled:
            raise AlreadyAcknowledged(self.subject, self._state.settled)
        client = self._client
        added = client._buffer_publish(self.reply, payload, None, None)
        self._state.settled = how
        await client._after_write(added)

    async def ack(self) -> None:
        """Acknowledge: the message is done and will not be delivered again."""
        await self._settle("ack", b"+ACK")

    async def ack_sync(self) -> None:
        """Acknowledge and wait until the server confirms it (a request).

        The message counts as settled only once the server confirmed it;
        while the request waits, another ack of it is refused. If it raises
        (``OutboundBufferFull``: no ack was sent; the caller's deadline, or
        ``ConnectionLost``: the server may or may not have applied it;
        ``NoResponders``: nothing takes the ack, as when the consumer was
        deleted, or its ``ack_policy`` is ``NONE``), the message is left
        unsettled: settle it again (an ack applied twice is harmless; a nak
        or term after an applied ack does nothing).

        There is no deadline of its own: the caller's cancel scope is it.
        """
        await checkpoint_if_cancelled()
        if self._state.settled:
            raise AlreadyAcknowledged(self.subject, self._state.settled)
        self._state.settled = "ack"
        try:
            await self._client.request(self.reply, b"+ACK")
        except BaseException:
            # Not confirmed (a reply that came too late was dropped by the request):
            # counted as settled, the message could be neither acked again nor given back.
            self._state.settled = ""
            raise

    async def nak(self, *, delay: float | None = None) -> None:
        """Refuse it for now: it is delivered again, after ``delay`` seconds if given."""
        if delay is None:
            await self._settle("nak", b"-NAK")
        else:
            payload = b"-NAK " + json.dumps({"delay": _delay_nanos(delay)}).encode()
            await self._settle("nak", payload)

    async def in_progress(self) -> None:
        """Say it is still being worked on: the server restarts its ``ack_wait`` clock."""
        await checkpoint_if_cancelled()
        if self._state.settled:
            raise AlreadyAcknowledged(self.subject, self._state.settled)
        client = self._client
        await client._after_write(client._buffer_publish(self.reply, b"+WPI", None, None))

    async def term(self, *, reason: str | None = None) -> None:
        """Give it up for good: it is never delivered again (whatever ``max_deliver`` says)."""
        payload = b"+TERM" if not reason else b"+TERM " + reason.encode()
        await self._settle("term", payload)

    def _settle_nowait(
        self,
        how: str,
        payload: bytes,
        on_confirmed: Callable[[NatsError | None], object] | None = None,
    ) -> None:
        if self._state.settled:
            raise AlreadyAcknowledged(self.subject, self._state.settled)
        client = self._client
        if on_confirmed is None:
            client._buffer_publish(self.reply, payload, None, None)
        else:
            _check_callback("on_confirmed", on_confirmed)

            def on_reply(msg: Msg | NatsError) -> None:
                if isinstance(msg, NatsError):
                    on_confirmed(msg)
                elif msg.status == 503:
                    on_confirmed(NoResponders(self.reply))
                else:
                    on_confirmed(None)

            client._request_soon(self.reply, payload, None, on_reply)
        self._state.settled = how

    def ack_nowait(
        self, *, on_confirmed: Callable[[NatsError | None], object] | None = None
    ) -> None:
        """``ack()`` from synchronous code (a callback): buffered, never waits.

        With ``on_confirmed``, the ack asks the server to confirm it, as
        ``ack_sync`` does: the client's reader task calls ``on_confirmed(None)``
        once the server has applied it (on a work-queue stream the message is
        then gone and its room free), or with the error (``ConnectionLost``:
        the connection dropped after it was written, ``NoResponders``: the
        consumer is gone, ``ReplyTimeout``: no answer came within the client's
        ``reply_timeout`` of the ack being written, as when the server holds
        the message for no consumer any more, ``ConnectionClosed``: the client
        closed first). It is called exactly once, at the latest
        ``reply_timeout`` (and up to a quarter more) after the ack is written.

        Raises:
            AlreadyAcknowledged: it was settled already.
            OutboundBufferFull: reconnecting, and the outage buffer has no room.
            ConnectionClosed: the client is closed.
            TypeError: ``on_confirmed`` is not a plain function (an ``async def``, say).
        """
        self._settle_nowait("ack", b"+ACK", on_confirmed)

    def nak_nowait(self, *, delay: float | None = None) -> None:
        """``nak()`` from synchronous code: buffered, never waits (raises as ``ack_nowait``)."""
        if delay is None:
            self._settle_nowait("nak", b"-NAK")
            return
        self._settle_nowait("nak", b'-NAK {"delay": %d}' % _delay_nanos(delay))

    def term_nowait(
        self,
        *,
        reason: str | None = None,
        on_confirmed: Callable[[NatsError | None], object] | None = None,
    ) -> None:
        """``term()`` from synchronous code: buffered, never waits (raises as ``ack_nowait``).

        ``on_confirmed`` is as for ``ack_nowait``.
        """
        payload = b"+TERM" if not reason else b"+TERM " + reason.encode()
        self._settle_nowait("term", payload, on_confirmed)


# --- the converter ----------------------------------------------------------


def _delay_nanos(delay: float) -> int:
    """A NAK's ``delay`` in nanoseconds, refused unless the server can hold it."""
    nanos = delay * _NANOS if delay >= 0 and not math.isinf(delay) else -1
    if not 0 <= nanos <= _MAX_NANOS:
        raise ValueError(
            f"delay must be seconds >= 0 and at most {_MAX_NANOS // _NANOS} "
            f"(the server's int64 nanoseconds), got {delay!r}"
        )
    return int(nanos)


def _nanos(value: float) -> int:
    nanos = round(value * _NANOS) if not math.isinf(value) and not math.isnan(value) else None
    if nanos is None or abs(nanos) > _MAX_NANOS:
        raise ValueError(
            f"a duration must be finite seconds, at most {_MAX_NANOS // _NANOS} "
            f"(the server's int64 nanoseconds), got {value!r}"
        )
    return nanos


def _to_nanos(value: float | tuple[float, ...] | None) -> int | list[int] | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return [_nanos(v) for v in value]
    return _nanos(value)


def _from_nanos(value: object, kind: object) -> float | tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(int(v) / _NANOS for v in value)
    return int(value) / _NANOS  # type: ignore[call-overload,no-any-return]


def _make_converter() -> cattrs.Converter:
    made = cattrs.Converter()
    for cls in (StreamConfig, ConsumerConfig):
        durations = [f.name for f in attrs.fields(cls) if f.metadata.get(_DURATION)]
        to_wire: dict[str, Any] = {name: override(unstruct_hook=_to_nanos) for name in durations}
        from_wire: dict[str, Any] = {name: override(struct_hook=_from_nanos) for name in durations}
        unstructure = make_dict_unstructure_fn(cls, made, **to_wire)
        structure = make_dict_structure_fn(cls, made, **from_wire)

        def without_none(
            value: object, unstructure: Callable[[Any], dict[str, object]] = unstructure
        ) -> dict[str, object]:
            return {k: v for k, v in unstructure(value).items() if v is not None}

        made.register_unstructure_hook(cls, without_none)
        made.register_structure_hook(cls, structure)
    return made


converter: Final = _make_converter()
"""The cattrs converter JetStream values go through (this module's own, not cattrs' global one)."""

_STREAM_FIELDS: Final = frozenset(f.name for f in attrs.fields(StreamConfig))
"""The stream settings ``StreamConfig`` models (an update sends them as given)."""

_CONSUMER_FIELDS: Final = frozenset(f.name for f in attrs.fields(ConsumerConfig))
"""The consumer settings ``ConsumerConfig`` models (an update sends them as given)."""


def _unmodelled(info: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """The settings of an info answer's ``config`` that are not ``fields`` (a config class's).

    An update sends them back as they are (the server replaces a whole configuration).
    """
    held = info.get("config")
    if not isinstance(held, dict):
        return {}
    return {k: v for k, v in held.items() if k not in fields}


# --- the API ---------------------------------------------------------------------


def _is_name(name: object) -> bool:
    """Whether ``name`` can name a stream or a consumer (and be one token of a subject)."""
    return isinstance(name, str) and bool(name) and not any(c in name for c in ". *>\t\r\n")


def _check_name(what: str, name: str) -> str:
    if not _is_name(name):
        raise ValueError(
            f"a {what} name must be non-empty without '.', '*', '>' or spaces, got {name!r}"
        )
    return name


def _consumer_name(config: ConsumerConfig) -> str | None:
    """The name ``config`` gives its consumer (``None``: the server makes one up).

    Raises:
        ValueError: ``durable_name`` or ``name`` is set to no valid name, or
            both are set and differ.
    """
    durable, name = config.durable_name, config.name
    for what, value in (("durable_name", durable), ("name", name)):
        if value is not None and not _is_name(value):
            raise ValueError(
                f"ConsumerConfig.{what} must be a consumer name (non-empty, without '.', "
                f"'*', '>' or spaces) or None, got {value!r}"
            )
    if durable is not None and name is not None and durable != name:
        raise ValueError(
            f"ConsumerConfig has durable_name {durable!r} and name {name!r}: a consumer has "
            "one name (set one of them, or both the same)"
        )
    return durable if durable is not None else name


def _decode(msg: Msg) -> dict[str, Any]:
    try:
        body = json.loads(msg.data)
    except (ValueError, RecursionError):  # (nested too deep: RecursionError)
        raise JetStreamError(0, 0, f"the server's answer is not JSON: {msg.data[:200]!r}") from None
    if not isinstance(body, dict):
        raise JetStreamError(0, 0, f"the server's answer is not an object: {msg.data[:200]!r}")
    error = body.get("error")
    if isinstance(error, dict):
        numbers = []
        for field in ("code", "err_code"):
            number = error.get(field, 0)
            if isinstance(number, bool) or not isinstance(number, int):
                raise JetStreamError(
                    0,
                    0,
                    f"the server's error has a {field} that is not an integer: "
                    f"{number!r} in {str(error)[:200]}",
                )
            numbers.append(number)
        raise JetStreamError(numbers[0], numbers[1], str(error.get("description", "")))
    return body


def _answer_error(what: str, problem: str, body: object) -> JetStreamError:
    """The error for an answer the call cannot read: ``what`` it should be, and why not."""
    return JetStreamError(0, 0, f"not {what}: {problem} in {str(body)[:200]!r}")


def _structured(body: dict[str, Any], cls: type[_T], what: str) -> _T:
    """``body`` as a ``cls`` (through ``converter``), or ``JetStreamError`` saying what is wrong.

    A server (or something answering in its place) may send any JSON: a
    field of the wrong type must not escape as cattrs' ``ClassValidationError``
    (an exception group) or a bare ``ValueError``.
    """
    try:
        return converter.structure(body, cls)
    except cattrs.BaseValidationError as error:
        problem = "; ".join(cattrs.transform_error(error))
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as error:
        problem = str(error)
    raise _answer_error(what, problem, body)


def _is_int(value: object) -> TypeGuard[int]:
    """Whether a JSON value is an integer: not a bool (an ``int`` to Python), a float or a string.

    (``int()`` would take ``"7"``, ``7.5`` or ``true`` for what they are not.)
    """
    return type(value) is int


def _int_field(body: dict[str, Any], field: str, what: str) -> int:
    """``body[field]`` (0 if absent or null) if it is an integer, else ``JetStreamError``."""
    value = body.get(field)
    if value is None:
        return 0
    if not _is_int(value):
        raise _answer_error(what, f"{field} is not an integer: {value!r}", body)
    return value


def _fresh_inbox(
    client: Client, sub: Subscription, callback: Callable[[Msg], None]
) -> Subscription:
    """Subscribe a new inbox for pulls in place of ``sub``'s, which ends.

    The server drops a pull whose reply subject nobody listens to (when it
    next has a message for it), so the pulls sent to ``sub``'s inbox can
    deliver nothing once it is gone: those written on a connection that
    dropped (the server may still hold them, and the client re-subscribes
    its inboxes at once when it reconnects) and those still in the outage
    buffer. Made during an outage, the new subscription's SUB waits in the
    outage buffer, ahead of every pull made to it, and goes out once.
    While the client drains there is none to move to: the drain ends
    every subscription and refuses new ones, so ``sub`` stays, ended, and
    pulls made to it deliver nothing (this runs in the client's own task
    at a drop, where a refusal would end the client).
    """
    if sub.active:
        if client._status is not Status.RECONNECTING:
            client._send_unsub(sub)  # (the lost connection took the server's copy)
        client._forget(sub)
        sub._end(None)
    if client._draining:
        return sub
    return client._subscribe_now(client.new_inbox(), callback=callback, on_refused=sub._on_refused)


def _still_owed(msg: Msg, asked: int) -> int:
    """How many of the ``asked`` messages a pull that ended (404/408) released unsent.

    The server says it in ``Nats-Pending-Messages``; without that header (or
    with an unreadable one) the pull is taken to have released all it asked.
    Only ASCII digits make a count (``_is_count``): ``int()`` would also read
    ``-5``, a count that makes the caller's outstanding pulls grow.
    """
    if msg.headers is not None:
        count = msg.headers.get("Nats-Pending-Messages", "").strip()
        if _is_count(count):
            return int(count)
    return asked


def _delivery(msg: Msg, client: Client, puller: str) -> JsMsg | JetStreamError | None:
    """The ``JsMsg`` a pull's inbox received (a message with no status), or why it is none.

    The server sends each delivery with its ``$JS.ACK`` reply subject, from
    which its metadata is read and to which its acks go. Returns:

    - the ``JsMsg``;
    - a ``JetStreamError`` for a delivery whose ``$JS.ACK`` subject cannot be
      read (a server writing them in a form this client does not know): it
      could be neither handed over nor acked, and every later one would be
      the same (each delivered again until ``max_deliver``, then lost), so
      the caller fails its pull, stream or feed with it;
    - ``None`` for a message with no ``$JS.ACK`` reply: not a delivery (the
      server sends none such), a stray publish to the inbox. The caller
      drops it and reports it (``_report_stray``), so that such a publish
      is neither mistaken for a delivery nor able to end a pull that works.
    """
    reply = msg.reply or ""
    try:
        metadata = MsgMetadata.from_reply(reply)
    except ValueError as error:
        if not reply.startswith("$JS.ACK."):
            return None
        return JetStreamError(
            0, 0, f"a delivery of {puller} on {msg.subject!r} cannot be read: {error}"
        )
    return JsMsg(msg.subject, reply, msg.data, msg.headers, metadata, client)


def _report_stray(msg: Msg, client: Client, puller: str) -> None:
    """Report a message that came to ``puller``'s inbox and is no delivery (see ``_delivery``).

    As ``AsyncError(JetStreamError(0, 0, ...))`` on the client's ``on_event``;
    the caller reports the first of each puller only (a stray publisher
    would flood the events).
    """
    how = f"reply {msg.reply!r}" if msg.reply else "no reply subject"
    client._report(
        AsyncError(
            JetStreamError(
                0,
                0,
                f"a message on {msg.subject!r} with {how} came to a pull inbox of {puller}: "
                "not a JetStream delivery (those come with a $JS.ACK reply subject), "
                "dropped; later ones to this puller are dropped unreported",
            )
        )
    )


_FINAL_409: Final = ("consumer deleted", "consumer is push based", "exceeded maxrequest")
"""409 texts after which a pull asked again is refused again (too big a batch...)."""


def _ends_pulls(description: str) -> bool:
    """Whether a 409 ends a consumer's pulls for good, so pulling again would loop.

    ``Exceeded MaxWaiting``, ``Leadership Change`` and the like end one pull
    only: the next may succeed.
    """
    return description.lower().startswith(_FINAL_409)


def _pause_after(refusals: int) -> float:
    """Seconds to wait before pulling again after ``refusals`` pulls refused for now in a row.

    Asked again at once, a pull refused because too many wait (or too many
    messages are unacknowledged) is refused again at once: a busy loop
    against the server. The pause doubles, so that a refusal that lasts costs
    a pull a second, and a short one little delay.
    """
    return min(_REFUSED_PAUSE * (1 << min(refusals - 1, 16)), _REFUSED_PAUSE_MAX)


async def _look_into_missing(puller: MessageStream | PullFeed) -> bool:
    """After a pull of ``puller`` had no responder (503): whether its consumer is gone.

    Gone (the consumer, or its stream, not found), ``puller`` fails with that
    error. Else (the server says it is there, or cannot say: no leader yet in
    a cluster, a drop...) a refusal is counted: ``puller`` pulls again after
    its pause. Cancelled, it is left for the next caller to ask again.
    """
    puller._missing = False
    try:
        await puller._consumer.info()
    except JetStreamError as error:
        if error.err_code in (10014, 10059):  # consumer, or stream, not found
            puller._fail(error)
            return True
    except NatsError:
        pass
    except BaseException:
        puller._missing = True  # cancelled
        raise
    puller._refusals += 1
    puller._retry_at = trio.current_time() + _pause_after(puller._refusals)
    return False


_PUB_ACK: Final = re.compile(
    rb'\{"stream":"([^"\\]+)",\s*"seq":(\d+)(,\s*"duplicate":\s*true)?\}\Z'
)
"""The acknowledgement as nats-server writes it (no domain, no escapes), read without json."""


def _pub_ack(msg: Msg) -> PubAck:
    # This runs once per acknowledged publish: the server's usual answer is
    # matched directly, anything else (a domain, an error) goes through json.
    match = _PUB_ACK.match(msg.data)
    if match is not None:
        stream, seq, duplicate = match.groups()
        return PubAck(stream.decode(), int(seq), duplicate is not None, None)
    body = _decode(msg)
    # Built by hand (this runs once per acknowledged publish), each field checked:
    # int() or bool() would take "7", true or "false" for what they are not.
    stream, seq = body.get("stream"), body.get("seq")
    duplicate, domain = body.get("duplicate", False), body.get("domain")
    if not isinstance(stream, str):
        problem = f"stream is not a name: {stream!r}"
    elif type(seq) is not int:
        problem = f"seq is not an integer: {seq!r}"
    elif not isinstance(duplicate, bool):
        problem = f"duplicate is not a boolean: {duplicate!r}"
    elif domain is not None and not isinstance(domain, str):
        problem = f"domain is not a name: {domain!r}"
    else:
        return PubAck(stream, seq, duplicate, domain)
    raise _answer_error("a publish acknowledgement", problem, body)


def _check_msg_id(msg_id: str) -> str:
    """Return ``msg_id`` if it can deduplicate: a non-empty header value.

    The server ignores an empty ``Nats-Msg-Id``: publishes "with the same id"
    ``""`` would all be stored.
    """
    if not isinstance(msg_id, str) or not msg_id:
        raise ValueError(f"msg_id must be a non-empty string (or None for no id), got {msg_id!r}")
    return _check_value(msg_id)


def _check_last_seq(value: int) -> int:
    """Return ``value`` if it is an ``expected_last_seq``: an int >= 0 (0: nothing stored)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected_last_seq must be an int >= 0, got {value!r}")
    return value


def _check_expected_stream(name: str) -> str:
    """Return ``name`` if it can be an ``expected_stream``: a stream name.

    The server ignores an empty ``Nats-Expected-Stream`` (the publish is
    stored whatever stream takes it), and no stream's name holds a ``.``,
    a space, ``*`` or ``>``, so such an expectation would fail every time.
    """
    if not _is_name(name):
        raise ValueError(
            "expected_stream must be a stream name (non-empty, without '.', '*', '>' or "
            f"spaces), got {name!r}"
        )
    return name


def _given_twice(argument: str, header: str) -> ValueError:
    return ValueError(
        f"{argument}= sets the {header} header, which headers already holds: give it one way only"
    )


def _publish_headers(
    headers: HeadersLike | None,
    msg_id: str | None,
    expected_stream: str | None,
    expected_last_seq: int | None,
) -> HeadersLike | None:
    """``headers`` with those the arguments set added.

    A header set both in ``headers`` and by its argument is refused rather
    than sent twice (the server would read one of the two, not saying which).
    """
    extra: list[tuple[str, str, str]] = []
    if msg_id is not None:
        extra.append(("msg_id", "Nats-Msg-Id", _check_msg_id(msg_id)))
    if expected_stream is not None:
        stream = _check_expected_stream(expected_stream)
        extra.append(("expected_stream", "Nats-Expected-Stream", stream))
    if expected_last_seq is not None:
        last = str(_check_last_seq(expected_last_seq))
        extra.append(("expected_last_seq", "Nats-Expected-Last-Sequence", last))
    if not extra:
        return headers
    if headers is None:
        return Headers([(header, value) for _, header, value in extra])
    base = headers if isinstance(headers, Headers) else Headers(headers)
    for argument, header, _ in extra:
        if header in base:
            raise _given_twice(argument, header)
    return Headers([*base.pairs(), *((header, value) for _, header, value in extra)])


_BARE_BLOCK: Final = b"NATS/1.0\r\n\r\n"
"""The header block with no headers (``encode_headers(Headers())``)."""


def _msg_id_block(headers: HeadersLike | None, msg_id: str) -> bytes:
    """The header block of ``headers`` followed by ``Nats-Msg-Id: msg_id``, encoded.

    Built from the block ``headers`` keeps (see ``encode_headers``), so a
    ``Headers`` published again and again with a new id each time is not
    encoded nor checked again; only the id is. A block that already holds a
    ``Nats-Msg-Id`` is refused, as ``_publish_headers`` does (its header
    lines each start after a CRLF, and no value holds one).
    """
    _check_msg_id(msg_id)
    base = _BARE_BLOCK if headers is None else encode_headers(headers)
    if b"\r\nNats-Msg-Id:" in base:
        raise _given_twice("msg_id", "Nats-Msg-Id")
    return b"%sNats-Msg-Id: %s\r\n\r\n" % (base[:-2], msg_id.encode())


class JetStream:
    """JetStream over one client: streams, consumers, acknowledged publishes, pulls.

    Made by ``Client.jetstream()``; holds no state but the API prefix, so any
    number of tasks may use one. Every call's deadline is the caller's cancel
    scope. API errors raise ``JetStreamError`` (``code``, ``err_code``,
    ``description``); a server without JetStream raises ``NoResponders``.
    """

    __slots__ = ("_client", "_prefix")

    def __init__(
        self, client: Client, *, prefix: str = "$JS.API", domain: str | None = None
    ) -> None:
        # The connection every call goes through.
        self._client = client
        # The API subject prefix ("$JS.<domain>.API" with a domain).
        self._prefix = f"$JS.{domain}.API" if domain else prefix

    async def _api(self, subject: str, body: object = None) -> dict[str, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        reply = await self._client.request(f"{self._prefix}.{subject}", payload)
        return _decode(reply)

    async def account_info(self) -> dict[str, Any]:
        """The account's JetStream usage and limits, as the server sends them (a dict)."""
        return await self._api("INFO")

    async def add_stream(self, config: StreamConfig) -> StreamInfo:
        """Create a stream; making an identical one again is not an error."""
        _check_name("stream", config.name)
        body = await self._api(f"STREAM.CREATE.{config.name}", converter.unstructure(config))
        return _structured(body, StreamInfo, "a stream info")

    async def update_stream(self, config: StreamConfig) -> StreamInfo:
        """Change a stream's configuration (what the server allows to change).

        The server replaces the whole configuration, so the settings
        ``StreamConfig`` does not model (``metadata``, ``allow_direct``,
        ``sources``...) are read from the stream first and sent back as they
        are: an update changes the fields of ``config`` only, never those
        trouper cannot show. Two requests, not atomic: a change made by
        someone else in between to an unmodelled setting is undone.
        """
        _check_name("stream", config.name)
        kept = _unmodelled(await self._api(f"STREAM.INFO.{config.name}"), _STREAM_FIELDS)
        body = await self._api(
            f"STREAM.UPDATE.{config.name}", {**kept, **converter.unstructure(config)}
        )
        return _structured(body, StreamInfo, "a stream info")

    async def stream_info(self, name: str) -> StreamInfo:
        """A stream's configuration and state.

        Raises:
            JetStreamError: no such stream (``err_code`` 10059).
        """
        body = await self._api(f"STREAM.INFO.{_check_name('stream', name)}")
        return _structured(body, StreamInfo, "a stream info")

    async def delete_stream(self, name: str) -> None:
        """Delete a stream and its messages and consumers."""
        await self._api(f"STREAM.DELETE.{_check_name('stream', name)}")

    async def purge_stream(self, name: str) -> int:
        """Delete every message of a stream; return how many there were."""
        body = await self._api(f"STREAM.PURGE.{_check_name('stream', name)}")
        return _int_field(body, "purged", "a purge answer")

    async def add_consumer(self, stream: str, config: ConsumerConfig) -> ConsumerInfo:
        """Create (or update, if the change is allowed) a consumer of ``stream``.

        The server replaces a whole configuration, so a named consumer that
        exists is read first and the settings ``ConsumerConfig`` does not
        model (``max_batch``, ``max_expires``, ``metadata``...) are sent back as
        they are: an update changes the fields of ``config`` only, never those
        trouper cannot show (as ``update_stream``). Two requests then, not
        atomic: a change made by someone else in between to an unmodelled
        setting is undone.

        Raises:
            ValueError: ``stream``, ``config.durable_name`` or ``config.name`` is
                not a valid name, or the last two are both set and differ (the
                server would take the durable name and drop the other
                unsaid); nothing is sent.
        """
        _check_name("stream", stream)
        name = _consumer_name(config)
        subject = f"CONSUMER.CREATE.{stream}"
        wanted = converter.unstructure(config)
        if name is not None:
            subject += f".{name}"
            wanted = {**await self._unmodelled_consumer_settings(stream, name, wanted), **wanted}
        body = await self._api(subject, {"stream_name": stream, "config": wanted})
        return _structured(body, ConsumerInfo, "a consumer info")

    async def _unmodelled_consumer_settings(
        self, stream: str, name: str, wanted: dict[str, Any]
    ) -> dict[str, Any]:
        """The settings of consumer ``name`` that ``ConsumerConfig`` lacks ({} if it is new)."""
        try:
            current = await self._api(f"CONSUMER.INFO.{stream}.{name}")
        except JetStreamError as error:
            if error.err_code in (10014, 10059):  # no such consumer (or stream): nothing to keep
                return {}
            raise
        kept = _unmodelled(current, _CONSUMER_FIELDS)
        if "filter_subject" in wanted:
            kept.pop("filter_subjects", None)  # the new filter replaces the old ones
        return kept

    async def consumer_info(self, stream: str, name: str) -> ConsumerInfo:
        """A consumer's configuration and progress.

        Raises:
            JetStreamError: no such consumer (``err_code`` 10014) or stream (10059).
        """
        _check_name("stream", stream)
        body = await self._api(f"CONSUMER.INFO.{stream}.{_check_name('consumer', name)}")
        return _structured(body, ConsumerInfo, "a consumer info")

    async def delete_consumer(self, stream: str, name: str) -> None:
        """Delete a consumer."""
        _check_name("stream", stream)
        await self._api(f"CONSUMER.DELETE.{stream}.{_check_name('consumer', name)}")

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: HeadersLike | None = None,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
    ) -> PubAck:
        """Publish to a stream and wait for its acknowledgement.

        ``msg_id`` (the ``Nats-Msg-Id`` header) makes the stream store the
        message once within its ``duplicate_window``: a second publish with the
        same id gets a ``PubAck`` with ``duplicate=True`` and is not stored.
        It must not be empty (the server would ignore it: pass ``None`` for no
        id). ``expected_stream`` and ``expected_last_seq`` (an int >= 0; 0:
        the stream holds nothing yet) set ``Nats-Expected-Stream`` and
        ``Nats-Expected-Last-Sequence``. ``expected_stream`` must be a stream
        name (the server ignores an empty one). Each of these headers may also
        come in ``headers``, but not both ways at once.

        Raises:
            NoResponders: no stream takes ``subject``.
            JetStreamError: the stream refused it (an expectation failed, it is full...).
            PermissionsViolation: the server refused the publish (nothing was stored).
            ValueError: an empty ``msg_id``, an ``expected_stream`` that is no
                stream name, a bad ``expected_last_seq``, or a header given both in
                ``headers`` and by its argument (nothing was sent).
        """
        headers = _publish_headers(headers, msg_id, expected_stream, expected_last_seq)
        reply = await self._client.request(subject, payload, headers=headers)
        return _pub_ack(reply)

    def publish_soon(
        self,
        subject: str,
        payload: bytes,
        on_ack: Callable[[PubAck | NatsError], object],
        *,
        headers: HeadersLike | None = None,
        msg_id: str | None = None,
    ) -> None:
        """Send an acknowledged publish now and call ``on_ack`` with its outcome later.

        For synchronous code that keeps many publishes in flight without a task
        each (a store's group of writes): the publish is buffered at once and
        ``on_ack`` is called from the client's reader task with the ``PubAck``,
        or with the error: ``NoResponders`` (no stream takes ``subject``, or
        JetStream is not ready), ``JetStreamError`` (the stream refused it),
        ``PermissionsViolation`` (the server refused the publish: nothing was stored),
        ``ConnectionLost`` (the connection dropped after it was written: it
        may or may not be stored; publish it again with the same ``msg_id``),
        ``ReplyTimeout`` (no answer within the client's ``reply_timeout`` of
        its being written: it may or may not be stored, as for
        ``ConnectionLost``), ``MaxPayloadExceeded`` (still buffered, it is over
        the ``max_payload`` of the server reconnected to, or of an ``INFO``
        that lowered it: it was not sent), ``ConnectionClosed``. It is called exactly once,
        at the latest ``reply_timeout`` (and up to a quarter more) after the
        publish is written; ``on_ack`` must not block.

        ``msg_id`` is checked as by ``publish``.

        Raises:
            MaxPayloadExceeded, OutboundBufferFull, ConnectionClosed, ValueError:
                as ``Client.publish_nowait`` (nothing was sent, ``on_ack`` is not called);
                ValueError also as ``publish`` for ``msg_id``.
            TypeError: ``on_ack`` is not a plain function (an ``async def``, say).
        """
        _check_callback("on_ack", on_ack)
        client = self._client

        def on_reply(msg: Msg | NatsError) -> None:
            if isinstance(msg, NatsError):
                on_ack(msg)
                return
            if msg.status == 503 and not msg.data:
                on_ack(NoResponders(subject))
                return
            try:
                ack = _pub_ack(msg)
            except JetStreamError as error:
                on_ack(error)
                return
            on_ack(ack)

        block: bytes | None = None
        if msg_id is not None:
            block = _msg_id_block(headers, msg_id)
        elif headers is not None:
            block = encode_headers(headers)
        # A request: if the connection drops once it is written, on_ack hears
        # ConnectionLost at once (its reply would be lost).
        client._request_soon(subject, payload, block, on_reply)

    async def get_msg(
        self,
        stream: str,
        *,
        seq: int | None = None,
        last_by_subject: str | None = None,
        next_by_subject: str | None = None,
    ) -> StreamMsg:
        """Read one stored message: by ``seq``, the last one on a subject, or the next one on one.

        ``next_by_subject`` (a pattern) with ``seq`` gives the first message at
        or after ``seq`` whose subject matches it; ``last_by_subject`` the
        newest message of that subject. ``seq`` is a stream sequence, an
        int >= 1.

        Raises:
            JetStreamError: no such message (``code`` 404, ``err_code`` 10037) or stream.
            ValueError: ``seq`` is not an int >= 1, or nothing says which message.
        """
        _check_name("stream", stream)
        request: dict[str, object] = {}
        if seq is not None:
            request["seq"] = check_positive_int("seq", seq)
        if last_by_subject is not None:
            request["last_by_subj"] = last_by_subject
        if next_by_subject is not None:
            request["next_by_subj"] = next_by_subject
        if not request:
            raise ValueError("get_msg needs seq, last_by_subject or next_by_subject")
        body = await self._api(f"STREAM.MSG.GET.{stream}", request)
        try:
            message = body["message"]
            subject, seq = message["subject"], message["seq"]
            if not isinstance(subject, str) or not _is_int(seq):
                raise TypeError  # (str() would take 5 for a subject)
            headers = None
            if message.get("hdrs"):
                headers, _, _ = parse_header_block(base64.b64decode(message["hdrs"]))
            return StreamMsg(
                subject,
                seq,
                base64.b64decode(message.get("data") or b""),
                headers,
                str(message.get("time", "")),
            )
        # (A "message" not an object: AttributeError; a "seq" of Infinity: OverflowError.)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
            raise JetStreamError(0, 0, f"not a stored message: {str(body)[:200]!r}") from None

    async def delete_msg(self, stream: str, seq: int) -> bool:
        """Delete one stored message by its sequence; return whether the server deleted it.

        Raises:
            JetStreamError: no such stream, or the message is not there (``err_code`` 10057).
            ValueError: ``seq`` is not an int >= 1.
        """
        _check_name("stream", stream)
        check_positive_int("seq", seq)
        body = await self._api(f"STREAM.MSG.DELETE.{stream}", {"seq": seq, "no_erase": True})
        success = body.get("success", False)
        if not isinstance(success, bool):
            raise _answer_error("a delete answer", f"success is not a boolean: {success!r}", body)
        return success

    async def stream_names(self, subject: str | None = None) -> list[str]:
        """The names of the streams (those that take ``subject``, a pattern, if given)."""
        names: list[str] = []
        while True:
            request: dict[str, object] = {"offset": len(names)}
            if subject is not None:
                request["subject"] = subject
            body = await self._api("STREAM.NAMES", request)
            page = body.get("streams") or []
            if not isinstance(page, list) or not all(isinstance(name, str) for name in page):
                raise _answer_error(
                    "a stream names answer", f"streams is not a list of names: {page!r}", body
                )
            names.extend(page)
            if not page or len(names) >= _int_field(body, "total", "a stream names answer"):
                return names

    async def subject_counts(self, stream: str, subjects: str) -> dict[str, int]:
        """How many messages ``stream`` holds on each subject matching ``subjects`` (a pattern)."""
        _check_name("stream", stream)
        counts: dict[str, int] = {}
        while True:
            body = await self._api(
                f"STREAM.INFO.{stream}", {"subjects_filter": subjects, "offset": len(counts)}
            )
            state = body.get("state") or {}
            page = state.get("subjects") if isinstance(state, dict) else state
            page = page or {}
            if not isinstance(page, dict) or not all(_is_int(count) for count in page.values()):
                raise _answer_error(
                    "a subject counts answer", f"state.subjects is not counts: {page!r}", body
                )
            counts.update(page)
            if not page or len(counts) >= _int_field(body, "total", "a subject counts answer"):
                return counts

    @asynccontextmanager
    async def publish_pipeline(self, *, max_in_flight: int = 256) -> AsyncIterator[PublishPipeline]:
        """Publish many messages without waiting for each ack, at most ``max_in_flight`` at once.

        ``async with js.publish_pipeline() as pipe: await pipe.publish(...)``.
        Leaving the block waits for every ack and raises the first failure;
        ``pipe.acks`` holds the acks in publish order.
        """
        pipeline = PublishPipeline(self._client, max_in_flight)
        try:
            yield pipeline
            await pipeline.wait()
        finally:
            pipeline._abandon()

    async def pull_subscribe(
        self, stream: str, durable: str, config: ConsumerConfig | None = None
    ) -> PullConsumer:
        """A pull consumer named ``durable`` on ``stream``, created if needed.

        With ``config``, the consumer is created (or updated) with it and the
        name ``durable`` (its ``durable_name`` and ``name`` are left unset, or
        set to ``durable``); without, an existing consumer is bound, or one
        with the default configuration is made.

        Raises:
            ValueError: ``stream`` or ``durable`` is not a valid name, or
                ``config`` names its consumer otherwise (nothing is made).
        """
        _check_name("stream", stream)
        _check_name("consumer", durable)
        if config is not None:
            named = _consumer_name(config)
            if named is not None and named != durable:
                raise ValueError(
                    f"pull_subscribe's durable {durable!r} names the consumer, but its config "
                    f"names it {named!r} (leave the config's durable_name and name unset, "
                    "or the same)"
                )
        if config is None:
            try:
                await self.consumer_info(stream, durable)
            except JetStreamError as error:
                if error.err_code != 10014:
                    raise
                await self.add_consumer(stream, ConsumerConfig(durable_name=durable))
        else:
            await self.add_consumer(stream, attrs.evolve(config, durable_name=durable))
        return PullConsumer(self, stream, durable)


class PublishPipeline:
    """Acknowledged publishes in flight together; made by ``JetStream.publish_pipeline``."""

    __slots__ = ("_client", "_error", "_in_flight", "_lot", "_max", "_tokens", "acks")

    def __init__(self, client: Client, max_in_flight: int) -> None:
        check_positive_int("max_in_flight", max_in_flight)
        # The connection.
        self._client = client
        # The bound on unacknowledged publishes.
        self._max = max_in_flight
        # Publishes sent and not yet answered (0 <= _in_flight <= _max).
        self._in_flight = 0
        # Tasks waiting for a slot, or for every ack.
        self._lot = ParkingLot()
        # The first failure, raised by the next publish and by wait().
        self._error: BaseException | None = None
        # Reply tokens still registered (to drop them if the pipeline is left early).
        self._tokens: set[str] = set()
        self.acks: list[PubAck | None] = []
        """The acks so far, in publish order (``None`` until one arrives)."""

    @property
    def in_flight(self) -> int:
        """Publishes sent and not yet acknowledged."""
        return self._in_flight

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: HeadersLike | None = None,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
    ) -> None:
        """Send one acknowledged publish; wait only while ``max_in_flight`` are unanswered.

        The arguments are those of ``JetStream.publish``, checked the same way.

        Raises:
            JetStreamError, NoResponders: an earlier publish of the pipeline failed.
            ConnectionLost: the connection dropped after an earlier publish was
                written (its ack was lost with it).
            MaxPayloadExceeded, OutboundBufferFull, ConnectionClosed: as ``Client.publish``.
        """
        await checkpoint_if_cancelled()
        headers = _publish_headers(headers, msg_id, expected_stream, expected_last_seq)
        while self._in_flight >= self._max and self._error is None:
            await self._lot.park()
        if self._error is not None:
            raise self._error
        client = self._client
        index = len(self.acks)
        self.acks.append(None)

        def on_reply(msg: Msg | NatsError) -> None:
            self._tokens.discard(token)
            self._in_flight -= 1
            try:
                if isinstance(msg, NatsError):
                    raise msg
                if msg.status == 503 and not msg.data:
                    raise NoResponders(subject)
                self.acks[index] = _pub_ack(msg)
            except NatsError as error:
                if self._error is None:
                    self._error = error
            if self._lot:
                self._lot.unpark_all()

        # A request: its handler hears ConnectionLost if the connection drops
        # once it is written (its ack is lost), as js.publish does.
        try:
            token, added = client._request_soon(subject, payload, headers, on_reply, attended=True)
        except BaseException:
            self.acks.pop()
            raise
        self._tokens.add(token)
        self._in_flight += 1
        await client._after_write(added)

    async def wait(self) -> list[PubAck]:
        """Wait until every publish is acknowledged; return the acks in order.

        Raises:
            JetStreamError, NoResponders: a publish failed (the first failure).
            ConnectionLost: the connection dropped after a publish was written.
            MaxPayloadExceeded: a publish still buffered was over the
                ``max_payload`` of the server reconnected to, or of an ``INFO``
                that lowered it (it was not sent).
        """
        await checkpoint_if_cancelled()
        while self._in_flight and self._error is None:
            await self._lot.park()
        if self._error is not None:
            raise self._error
        await cancel_shielded_checkpoint()
        return [ack for ack in self.acks if ack is not None]

    def _abandon(self) -> None:
        for token in self._tokens:
            self._client._forget_request(token)
        self._tokens.clear()


class PullConsumer:
    """A durable pull consumer: ``fetch`` takes batches, ``consume`` streams messages."""

    __slots__ = ("_js", "name", "stream")

    def __init__(self, js: JetStream, stream: str, name: str) -> None:
        # The JetStream context.
        self._js = js
        self.stream = stream
        """The stream it consumes."""
        self.name = name
        """Its name."""

    def __repr__(self) -> str:
        return f"<PullConsumer {self.stream}/{self.name}>"

    async def info(self) -> ConsumerInfo:
        """Its configuration and progress."""
        return await self._js.consumer_info(self.stream, self.name)

    def _pull_subject(self) -> str:
        """The ``CONSUMER.MSG.NEXT`` subject its pulls are published to."""
        return f"{self._js._prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.name}"

    async def fetch(
        self, batch: int = 1, *, expires: float = 5.0, no_wait: bool = False
    ) -> list[JsMsg]:
        """Take up to ``batch`` messages.

        Waits until ``batch`` messages came or ``expires`` seconds passed on the
        server (status 408), and returns what came, possibly nothing. With
        ``no_wait``, returns at once with what is available (status 404 when
        nothing is), except while the consumer has ``max_ack_pending``
        messages unacknowledged and more waiting: the server then holds the
        pull for an ack to free room, never ending it, and this returns what
        came 2 s later. If the server's end of the pull is lost (the connection
        dropped), it returns what came 2 s after ``expires``. The caller's
        cancel scope bounds the wait too; messages that arrive after it was
        cancelled are delivered again by the server after ``ack_wait``.

        A message on the pull's inbox without a ``$JS.ACK`` reply subject is no
        delivery (the server sends none such): it is dropped, and the first
        is reported to the client's ``on_event`` as ``AsyncError(JetStreamError)``.

        Raises:
            JetStreamError: the server ended the pull with a 409 (consumer
                deleted, too many waiting pulls...) before any message came, or
                refused it as a bad request (400); or a delivery's ``$JS.ACK``
                subject cannot be read (code 0; what came is delivered again
                after ``ack_wait``).
        """
        await checkpoint_if_cancelled()
        check_positive_int("batch", batch)
        if not expires > 0 or math.isinf(expires):
            raise ValueError(f"expires must be seconds > 0, got {expires!r}")
        client = self._js._client
        msgs: list[JsMsg] = []
        done: Waiter[object] = Waiter()
        strayed = False  # whether a stray message came (and was reported)

        def on_message(msg: Msg | NatsError) -> None:
            nonlocal strayed
            if isinstance(msg, NatsError):
                done.settle(outcome.Error(msg))
                return
            status = msg.status
            if status is None:
                delivered = _delivery(msg, client, repr(self))
                if isinstance(delivered, JsMsg):
                    msgs.append(delivered)
                    if len(msgs) >= batch:
                        done.settle(outcome.Value(None))
                elif delivered is not None:
                    done.settle(outcome.Error(delivered))
                elif not strayed:
                    strayed = True
                    _report_stray(msg, client, repr(self))
            elif status in (404, 408):
                done.settle(outcome.Value(None))
            elif status in (400, 409):  # a bad request, or a refusal
                if msgs:
                    done.settle(outcome.Value(None))
                else:
                    done.settle(outcome.Error(JetStreamError(status, 0, msg.description)))
            elif status == 503 and not msgs:
                done.settle(outcome.Error(NoResponders(f"{self.stream}/{self.name}")))

        request: dict[str, object] = {"batch": batch}
        if no_wait:
            request["no_wait"] = True
        else:
            request["expires"] = round(expires * _NANOS)
        # Pulled messages keep their own subjects, so they are told apart by a
        # subscription of their own; the reply table only tells us of a close.
        inbox = client.new_inbox()
        sub = client._subscribe_now(inbox, callback=on_message, on_refused=on_message)
        subject = self._pull_subject()
        token = client._pull_entry(subject, on_message)  # (a refused pull fails it)
        try:
            added = client._buffer_publish(subject, json.dumps(request).encode(), inbox, None)
            await client._after_write(added)
            # The server ends the pull; if that end is lost (a reconnect), stop anyway.
            with trio.move_on_after((0 if no_wait else expires) + _PULL_GRACE):
                await done.wait()
        finally:
            client._forget_pulls(token)
            client._unsubscribe(sub)
        return msgs

    def feed(
        self,
        callback: Callable[[JsMsg], object],
        *,
        expires: float = 30.0,
        heartbeat: float | None = None,
    ) -> PullFeed:
        """Pull requests whose messages go to ``callback`` as they arrive (see ``PullFeed``).

        ``heartbeat`` is at most half of ``expires`` (the server refuses more);
        by default it is 5 s, or half of ``expires`` if that is shorter.
        """
        if heartbeat is None:
            heartbeat = min(5.0, expires / 2) if expires > 0 else 5.0
        return PullFeed(self, callback, expires, heartbeat)

    @asynccontextmanager
    async def consume(
        self, *, batch: int = 100, expires: float = 30.0
    ) -> AsyncIterator[MessageStream]:
        """Keep pull requests outstanding and hand messages over as they arrive.

        ``async with consumer.consume() as messages: async for msg in messages:``.
        Unlike ``fetch``, a message is handed over as soon as it arrives. The
        stream asks the server for ``batch`` messages at a time and asks for more
        once half of them came, so at most ``batch`` wait in memory; each pull
        lasts ``expires`` seconds on the server and is renewed when it ends (or,
        if its end went unheard, 2 s after ``expires``). A pull made before
        the connection drops is renewed at once (on a new inbox, so the old one
        cannot deliver too); one made during the outage goes out on the next
        connection, however long the outage (with the outage buffer full, it
        is made once reconnected: a reader is not failed for it). A pull refused for now (a 409
        ``Exceeded MaxWaiting``...) is asked again after a pause, 50 ms
        doubling with each such refusal in a row up to 1 s. A pull with no
        responder (503) makes a reader ask for the consumer: if it or its
        stream is not found, the stream ends with that ``JetStreamError``;
        else (a cluster electing its leader) it pulls again after such a pause.
        Leaving the block stops pulling; messages the server had already sent
        are delivered again after ``ack_wait``.
        """
        check_positive_int("batch", batch)
        if not expires > 0 or math.isinf(expires):
            raise ValueError(f"expires must be seconds > 0, got {expires!r}")
        stream = MessageStream(self, batch, expires)
        try:
            yield stream
        finally:
            stream._close()


class MessageStream:
    """Messages of a pull consumer as they arrive; made by ``PullConsumer.consume``.

    Read it with ``async for msg in messages`` or ``await messages.next_msg()``
    from one task or several (each message goes to one reader).
    """

    __slots__ = (
        "_batch",
        "_buffer",
        "_client",
        "_consumer",
        "_error",
        "_expires",
        "_lot",
        "_missing",
        "_outstanding",
        "_pulled_at",
        "_refusals",
        "_retry_at",
        "_strays",
        "_sub",
        "_subject",
        "_token",
    )

    def __init__(self, consumer: PullConsumer, batch: int, expires: float) -> None:
        client = consumer._js._client
        # The consumer pulled from, and the client pulled through.
        self._consumer = consumer
        self._client = client
        # The CONSUMER.MSG.NEXT subject.
        self._subject = consumer._pull_subject()
        # Messages asked for at a time, and how long each pull lasts on the server.
        self._batch = batch
        self._expires = expires
        # Messages asked for and not yet received (0 <= _outstanding <= _batch).
        self._outstanding = 0
        # trio.current_time() of the last pull request (or of the reconnect that sent it).
        self._pulled_at = -math.inf
        # Pulls refused for now in a row (409 Exceeded MaxWaiting...); 0 once one is taken.
        self._refusals = 0
        # trio.current_time() before which no pull is made (after such a refusal,
        # or inf while a pull answered by no responder is looked into).
        self._retry_at = -math.inf
        # Whether a pull had no responder (503) and no reader has asked why yet.
        self._missing = False
        # Whether a message that is no delivery (a stray publish) came and was reported.
        self._strays = False
        # Messages received and not yet read (at most _batch).
        self._buffer: deque[JsMsg] = deque()
        # Readers waiting for a message.
        self._lot = ParkingLot()
        # What ended the stream (a 409, the client closing), raised to readers.
        self._error: BaseException | None = None
        # The inbox subscription the server delivers to (a new one after each drop).
        self._sub = client._subscribe_now(
            client.new_inbox(), callback=self._on_message, on_refused=self._on_message
        )
        # Our entry in the client's reply table, only to hear that it closed, or
        # that the server refused a pull (publish permissions): the stream ends.
        self._token = client._pull_entry(self._subject, self._on_message)
        client._link_watchers.add(self)

    def _connection_lost(self) -> None:
        # Its pulls die with it, whether written or still in the outage buffer.
        if self._error is None:
            self._sub = _fresh_inbox(self._client, self._sub, self._on_message)
        if self._outstanding:
            self._outstanding = 0
            self._lot.unpark_all()

    def _reconnected(self) -> None:
        # The buffered pulls went out now: their expiry counts from here.
        self._pulled_at = trio.current_time()
        self._lot.unpark_all()

    def _on_message(self, msg: Msg | NatsError) -> None:
        if isinstance(msg, NatsError):
            self._fail(msg)
            return
        status = msg.status
        if status is None:
            delivered = _delivery(msg, self._client, repr(self._consumer))
            if not isinstance(delivered, JsMsg):
                if delivered is not None:
                    self._fail(delivered)
                elif not self._strays:
                    self._strays = True
                    _report_stray(msg, self._client, repr(self._consumer))
                return
            self._outstanding = max(self._outstanding - 1, 0)
            if self._refusals:
                self._refusals = 0  # a pull was taken
            self._buffer.append(delivered)
            if self._lot:
                self._lot.unpark()
        elif status in (404, 408):
            # A pull ended; the messages it still owed are in its headers.
            self._outstanding = max(self._outstanding - _still_owed(msg, self._outstanding), 0)
            self._refusals = 0
            if self._lot:
                self._lot.unpark()
        elif status == 400 or (status == 409 and _ends_pulls(msg.description)):
            self._fail(JetStreamError(status, 0, msg.description))
        elif status == 409:  # too many waiting pulls, leadership change...: ask again, later
            self._outstanding = 0
            self._refusals += 1
            self._retry_at = trio.current_time() + _pause_after(self._refusals)
            self._lot.unpark_all()  # to pull again at _retry_at, not at the pull's expiry
        elif status == 503:
            # No responder: the consumer or its stream is gone (for good), or the
            # consumer has no leader for now (a cluster electing one). No pull is
            # made until a reader has asked the server which (_look_into_missing).
            self._outstanding = 0
            self._missing = True
            self._retry_at = math.inf
            self._lot.unpark_all()

    async def _look_into_missing(self) -> None:
        """After a pull had no responder: end the stream if the consumer is gone, else pause."""
        try:
            await _look_into_missing(self)
        finally:
            self._lot.unpark_all()  # (cancelled: for the next reader to ask again)

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._lot.unpark_all()

    def _pull(self) -> None:
        wanted = self._batch - self._outstanding - len(self._buffer)
        if wanted <= 0 or trio.current_time() < self._retry_at:
            return
        request = {"batch": wanted, "expires": round(self._expires * _NANOS)}
        try:
            self._client._buffer_publish(
                self._subject, json.dumps(request).encode(), self._sub.subject, None
            )
        except OutboundBufferFull:
            # Reconnecting (the only time a publish finds no room) with the outage
            # buffer full: the outage passes, so pull once reconnected (_reconnected
            # wakes the readers) instead of failing the reader.
            return
        self._outstanding += wanted
        self._pulled_at = trio.current_time()

    async def next_msg(self) -> JsMsg:
        """Return the next message, waiting (and pulling) for one.

        Raises:
            JetStreamError: the server refused the pulls for good: a 409 (consumer
                deleted, a batch over its ``max_batch``...) or a bad request (400);
                or a pull had no responder and the consumer, or its stream, is
                not found (404, ``err_code`` 10014 or 10059); or a delivery's
                ``$JS.ACK`` subject cannot be read (code 0).
            ConnectionClosed: the client closed.
        """
        await checkpoint_if_cancelled()
        while not self._buffer:
            if self._error is not None:
                raise self._error
            if self._missing:
                await self._look_into_missing()
                continue
            client = self._client
            # While reconnecting, no pull ends: those buffered go out after.
            live = client._status is not Status.RECONNECTING
            # The server's 408 comes after the pull's expiry on its own clock, which
            # starts after ours: waited for only until our expiry, it would come after
            # a renewal, take its count off the new pull, and the stream would pull
            # again (twice the batch asked for). Unheard for a grace more, it is lost.
            lost_at = self._pulled_at + self._expires + _PULL_GRACE
            if live and trio.current_time() >= lost_at:
                self._outstanding = 0  # the pull's end went unheard: renew it
            if self._outstanding * 2 <= self._batch:
                self._pull()
                lost_at = self._pulled_at + self._expires + _PULL_GRACE
            deadline = lost_at if live else math.inf
            if not self._outstanding and live:
                deadline = max(self._retry_at, trio.current_time())  # a refusal's pause
            with trio.move_on_at(deadline):
                await self._lot.park()
        if self._outstanding * 2 <= self._batch:
            self._pull()
        msg = self._buffer.popleft()
        await cancel_shielded_checkpoint()
        return msg

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> JsMsg:
        return await self.next_msg()

    def _close(self) -> None:
        self._client._forget_pulls(self._token)
        self._client._link_watchers.discard(self)
        if self._sub.active:
            self._client._unsubscribe(self._sub)
        self._fail(ConnectionClosed("the message stream was closed"))


class PullFeed:
    """Long-polling pull requests whose messages go to a callback; made by ``PullConsumer.feed``.

    For a consumer that keeps its own window of messages (a durable mailbox):
    it says how many more it wants with ``pull(n)``; each message is handed to
    ``callback`` from the client's reader task as soon as it arrives (no task,
    no buffer per message). Each pull lasts ``expires`` seconds on the server,
    which sends an idle heartbeat every ``heartbeat`` seconds while the pull
    waits, so a pull the server lost is noticed after two silent heartbeats
    on a live connection: ``requested`` then drops to 0 and the owner pulls
    again. When the connection drops, every pull made until then is given
    up at once, and made sure of: the feed moves to a new inbox, so the
    server (which may still hold those pulls when the client reconnects)
    cannot deliver to them. A pull made while the client reconnects waits in
    the outage buffer and stays counted, however long the outage, since it
    goes out on the next connection. Call ``wait()`` in a loop to learn when
    to pull; ``close()`` stops (messages the server had already sent come
    back after ``ack_wait``).
    """

    __slots__ = (
        "_callback",
        "_client",
        "_consumer",
        "_error",
        "_expires",
        "_heartbeat",
        "_kicked",
        "_last_heard",
        "_missing",
        "_paused",
        "_refusals",
        "_retry_at",
        "_strays",
        "_sub",
        "_subject",
        "_token",
        "requested",
    )

    def __init__(
        self,
        consumer: PullConsumer,
        callback: Callable[[JsMsg], object],
        expires: float,
        heartbeat: float,
    ) -> None:
        if not expires > 0 or math.isinf(expires):
            raise ValueError(f"expires must be seconds > 0, got {expires!r}")
        if not 0 < heartbeat <= expires / 2:
            raise ValueError(f"heartbeat must be seconds in (0, expires/2], got {heartbeat!r}")
        _check_callback("callback", callback)
        client = consumer._js._client
        # The consumer pulled from, and the client pulled through.
        self._consumer = consumer
        self._client = client
        # Takes each message, on the reader task.
        self._callback = callback
        # Seconds a pull lasts on the server, and between its idle heartbeats.
        self._expires = expires
        self._heartbeat = heartbeat
        # Messages asked for and neither received nor released by the server (>= 0).
        self.requested = 0
        """Messages asked for that have neither come nor been given up by the server."""
        # trio.current_time() when the server was last heard from about our pulls
        # (or when the connection they went out on came up).
        self._last_heard = trio.current_time()
        # Set to wake wait(): something changed.
        self._kicked = trio.Event()
        # Pulls refused for now in a row (409 Exceeded MaxWaiting...); 0 once one is taken.
        self._refusals = 0
        # trio.current_time() at which wait() returns after such a refusal (inf: none pending).
        self._retry_at = math.inf
        # Whether _kicked was set by such a refusal only (wait() then waits for _retry_at).
        self._paused = False
        # Whether a pull had no responder (503) and wait() has not asked why yet.
        self._missing = False
        # Whether a message that is no delivery (a stray publish) came and was reported.
        self._strays = False
        # What ended the feed (the consumer deleted, the client closed), or None.
        self._error: BaseException | None = None
        # The CONSUMER.MSG.NEXT subject.
        self._subject = consumer._pull_subject()
        # The inbox the server delivers to (a new one whenever pulls are given
        # up for lost), and our reply-table entry (to hear of a close, or of a
        # pull the server refused (publish permissions): the feed ends).
        self._sub = client._subscribe_now(
            client.new_inbox(), callback=self._on_message, on_refused=self._on_closed
        )
        self._token = client._pull_entry(self._subject, self._on_closed)
        client._link_watchers.add(self)

    def _on_closed(self, msg: Msg | NatsError) -> None:
        if isinstance(msg, NatsError):
            self._fail(msg)

    def _give_up_pulls(self) -> None:
        """Take every pull made so far for lost, and make sure it is: none can deliver now."""
        if self._error is None:
            self._sub = _fresh_inbox(self._client, self._sub, self._on_message)
        self.requested = 0

    def _connection_lost(self) -> None:
        # Its pulls die with it, whether written or still in the outage buffer.
        if self.requested:
            self._kicked.set()
        self._give_up_pulls()

    def _reconnected(self) -> None:
        # The buffered pulls went out now: silence counts from here.
        self._last_heard = trio.current_time()
        self._kicked.set()

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._kicked.set()

    def _on_message(self, msg: Msg) -> None:
        status = msg.status
        if status is None:
            delivered = _delivery(msg, self._client, repr(self._consumer))
            if not isinstance(delivered, JsMsg):
                if delivered is not None:
                    self._fail(delivered)
                elif not self._strays:
                    self._strays = True
                    _report_stray(msg, self._client, repr(self._consumer))
                return
            self._last_heard = trio.current_time()
            if self._refusals:
                self._refusals = 0  # a pull was taken
            if self.requested > 0:
                self.requested -= 1
                if not self.requested:
                    self._kicked.set()  # every message asked for came: the owner may pull again
            self._callback(delivered)
            return
        self._last_heard = trio.current_time()
        if status == 100:
            if msg.reply:  # flow control asks for an answer; a heartbeat does not
                self._client.publish_nowait(msg.reply, b"")
            return
        if status in (404, 408):
            self.requested = max(self.requested - _still_owed(msg, self.requested), 0)
            if self._refusals:
                self._refusals = 0
                self._retry_at = math.inf
        elif status == 400 or (status == 409 and _ends_pulls(msg.description)):
            self._fail(JetStreamError(status, 0, msg.description))
        elif status == 409:  # too many waiting pulls, leadership change...: ask again, later
            self.requested = 0
            self._refusals += 1
            # Woken to look at _retry_at, wait() returns then, for the owner to pull again.
            self._retry_at = self._last_heard + _pause_after(self._refusals)
            self._paused = True
        elif status == 503:
            # No responder: the consumer or its stream is gone, or has no leader
            # for now; wait() asks the server which before the owner pulls again.
            self.requested = 0
            self._missing = True
        self._kicked.set()

    def pull(self, batch: int) -> None:
        """Ask for ``batch`` more messages (one pull request, lasting ``expires`` seconds).

        Raises:
            JetStreamError: the feed ended (the consumer was deleted, a refused pull...).
            ConnectionClosed, OutboundBufferFull: as ``Client.publish_nowait``.
        """
        if self._error is not None:
            raise self._error
        check_positive_int("batch", batch)
        request = b'{"batch":%d,"expires":%d,"idle_heartbeat":%d}' % (
            batch,
            round(self._expires * _NANOS),
            round(self._heartbeat * _NANOS),
        )
        if self.requested == 0:
            self._last_heard = trio.current_time()
        client = self._client
        client._buffer_publish(self._subject, request, self._sub.subject, None)
        self.requested += batch

    def wake(self) -> None:
        """Wake a task in ``wait()`` (its owner has room for more, or is closing)."""
        self._kicked.set()

    async def wait(self) -> None:
        """Wait until something changed: a pull ended or was lost, the messages asked for all
        came (``requested`` fell to 0), ``wake()``, the connection dropped or came back.

        A message that leaves some still asked for does not wake it (the
        callback has it); a callback that wants the owner woken calls ``wake()``.

        When pulls were lost (the connection dropped, or two heartbeats of
        silence on a live one), ``requested`` is 0 on return. While the
        client reconnects, silence loses nothing. A pull refused for now (a
        409 ``Exceeded MaxWaiting``, ``Exceeded MaxAckPending``...) makes it
        return after a pause, 50 ms doubling with each such refusal in a row
        up to 1 s, with ``requested`` 0: pulled again at once, it would be
        refused again at once.

        A pull with no responder (503) makes it ask for the consumer: found (a
        cluster electing its leader), it returns after such a pause too.

        Raises:
            JetStreamError: the server refused the pulls for good: a 409 (consumer
                deleted, a batch over its ``max_batch``...) or a bad request (400);
                or a pull had no responder and the consumer, or its stream, is
                not found (404, ``err_code`` 10014 or 10059); or a delivery's
                ``$JS.ACK`` subject cannot be read (code 0).
            ConnectionClosed: the client closed.
        """
        while True:
            if self._error is not None:
                raise self._error
            if self._missing:
                if not await _look_into_missing(self):
                    self._paused = True  # there: pull again after a refusal's pause
                continue
            if self._kicked.is_set():
                self._kicked = trio.Event()
                if not (self._paused and self._retry_at > trio.current_time()):
                    self._paused = False
                    await cancel_shielded_checkpoint()
                    return
                self._paused = False  # woken by a refusal: wait for its pause to end
            deadline = math.inf
            if self.requested and self._client._status is not Status.RECONNECTING:
                deadline = self._last_heard + 2 * self._heartbeat + 0.1
                if trio.current_time() >= deadline:
                    self._give_up_pulls()  # silence: the server lost them
                    await cancel_shielded_checkpoint()
                    return
            if self._retry_at <= trio.current_time():
                self._retry_at = math.inf  # a refused pull's pause is over: pull again
                await cancel_shielded_checkpoint()
                return
            deadline = min(deadline, self._retry_at)
            with trio.move_on_at(deadline):
                await self._kicked.wait()
            if not self._kicked.is_set():
                # Woken by the deadline: look again (silence).
                await trio.lowlevel.checkpoint()

    def close(self) -> None:
        """Stop: unsubscribe (idempotent); a task in ``wait()`` gets ``ConnectionClosed``."""
        self._client._forget_pulls(self._token)
        self._client._link_watchers.discard(self)
        if self._sub.active:
            self._client._unsubscribe(self._sub)
        self._fail(ConnectionClosed("the pull feed was closed"))
