"""Review 25: a JetStream API answer with a field of the wrong type is a JetStreamError.

``purge_stream`` and ``stream_names`` ran ``int()`` on what the server sent,
so a malformed count escaped as ``ValueError`` or ``TypeError``; the info
calls let cattrs' ``ClassValidationError`` (an exception group) out, and a
sequence of ``Infinity`` raised ``OverflowError``. Every such answer now
raises ``JetStreamError`` saying what it is not and why, and the
connection stays up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from nats_fake import api_call_outcome

from trouper.nats import JetStream, JetStreamError, Status, StreamConfig

pytestmark = pytest.mark.real_clock

Call = Callable[[JetStream], Awaitable[object]]

CASES: list[tuple[str, Call, bytes, str]] = [
    ("purge-text", lambda js: js.purge_stream("S"), b'{"purged":"many"}', "purged"),
    ("purge-list", lambda js: js.purge_stream("S"), b'{"purged":[]}', "purged"),
    ("names-total", lambda js: js.stream_names(), b'{"streams":["S"],"total":"x"}', "total"),
    ("names-streams", lambda js: js.stream_names(), b'{"streams":5,"total":1}', "streams"),
    ("names-items", lambda js: js.stream_names(), b'{"streams":[1],"total":1}', "streams"),
    (
        "counts-count",
        lambda js: js.subject_counts("S", "a.>"),
        b'{"state":{"subjects":{"a.b":"x"}},"total":1}',
        "subjects",
    ),
    ("counts-state", lambda js: js.subject_counts("S", "a.>"), b'{"state":7}', "subjects"),
    (
        "counts-total",
        lambda js: js.subject_counts("S", "a.>"),
        b'{"state":{"subjects":{"a.b":1}},"total":"x"}',
        "total",
    ),
    ("delete-success", lambda js: js.delete_msg("S", 1), b'{"success":"yes"}', "success"),
    (
        "stream-info",
        lambda js: js.stream_info("S"),
        b'{"config":{"name":"S","retention":"x"},"state":{}}',
        "retention",
    ),
    (
        "stream-info-duration",
        lambda js: js.stream_info("S"),
        b'{"config":{"name":"S","max_age":"long"},"state":{}}',
        "max_age",
    ),
    ("add-stream", lambda js: js.add_stream(StreamConfig("S")), b'{"config":{}}', "state"),
    (
        "consumer-info",
        lambda js: js.consumer_info("S", "C"),
        b'{"stream_name":"S","name":"C","config":{},"num_pending":"x"}',
        "num_pending",
    ),
    (
        "get-msg-infinite",
        lambda js: js.get_msg("S", seq=1),
        b'{"message":{"subject":"a","seq":Infinity}}',
        "stored message",
    ),
    (
        "get-msg-seq-text",
        lambda js: js.get_msg("S", seq=1),
        b'{"message":{"subject":"a","seq":"7"}}',
        "stored message",
    ),
    (
        "get-msg-subject-number",
        lambda js: js.get_msg("S", seq=1),
        b'{"message":{"subject":5,"seq":7}}',
        "stored message",
    ),
    ("publish-seq-true", lambda js: js.publish("a"), b'{"stream":"S","seq":true}', "seq"),
    ("publish-seq-text", lambda js: js.publish("a"), b'{"stream":"S","seq":"7"}', "seq"),
    (
        "publish-duplicate-text",
        lambda js: js.publish("a"),
        b'{"stream":"S","seq":7,"duplicate":"false"}',
        "duplicate",
    ),
    (
        "publish-domain-number",
        lambda js: js.publish("a"),
        b'{"stream":"S","seq":7,"domain":3}',
        "domain",
    ),
    (
        "publish-infinite",
        lambda js: js.publish("a"),
        b'{"stream":"S","seq":Infinity}',
        "publish acknowledgement",
    ),
]


@pytest.mark.parametrize(
    ("call", "answer", "named"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
async def test_an_answer_with_a_field_of_the_wrong_type_is_a_jetstream_error(
    call: Call, answer: bytes, named: str
) -> None:
    """The call raises JetStreamError naming what was wrong; the connection stays up."""
    outcome, status = await api_call_outcome(call, "PUB ", answer)
    assert status is Status.CONNECTED
    (error,) = outcome
    assert type(error) is JetStreamError, repr(error)
    assert str(error).startswith("JetStream error 0 (0): not ")
    assert named in str(error)
    json.dumps(str(error))  # (a plain message)
