"""Review 24: a get_msg answer whose "message" is not an object is a JetStreamError.

``get_msg`` turns an answer it cannot read into ``JetStreamError("not a
stored message ...")``; a "message" that was a list or a string raised
``AttributeError`` (``.get`` of a list) past that, out of the call.
"""

from __future__ import annotations

import json

import pytest
from nats_fake import api_call_outcome

from trouper.nats import JetStreamError, Status

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("message", [[], "text", 7], ids=["list", "string", "number"])
async def test_a_stored_message_that_is_not_an_object_is_a_jetstream_error(
    message: object,
) -> None:
    """The call raises JetStreamError naming the answer; the connection stays up."""
    answer = json.dumps(
        {"type": "io.nats.jetstream.api.v1.stream_msg_get_response", "message": message}
    ).encode()
    outcome, status = await api_call_outcome(
        lambda js: js.get_msg("S", seq=1), "PUB $JS.API.STREAM.MSG.GET.S ", answer
    )
    assert status is Status.CONNECTED
    (error,) = outcome
    assert isinstance(error, JetStreamError)
    assert "not a stored message: " in str(error)
