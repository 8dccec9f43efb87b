"""Review 18: an error raised in an update stream's body is logged as itself.

The stream's body runs in a nursery beside the listener for the client's
leaving (f02a339), so its error left that nursery as a group of one, and the
view's log (``trouper.observe``) showed an exception group instead of the error.
"""

from __future__ import annotations

import logging

import pytest
import trio
from event_clients import LAST_CHUNK

import trouper
from trouper.observe import PoolInfo, open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds the test may take."""


async def test_an_error_in_the_stream_body_is_logged_as_the_bare_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The error that ends a stream is the one logged, not a one-member exception group."""

    def broken() -> tuple[PoolInfo, ...]:
        raise RuntimeError("boom in the stream")

    with trio.fail_after(DEADLINE), caplog.at_level(logging.ERROR, logger="trouper.observe"):
        async with trouper.open_runtime() as rt, open_view(rt, port=0, interval=0.05) as view:
            view.observer.pools = broken  # type: ignore[method-assign]
            async with await trio.open_tcp_stream("127.0.0.1", view.port) as client:
                await client.send_all(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                received = b""
                while chunk := await client.receive_some(65536):  # until the stream ends
                    received += chunk
                    if received.endswith(LAST_CHUNK):
                        break  # ended (61d7309): the connection stays open for the next request
    errors = [record.exc_info[1] for record in caplog.records if record.exc_info]
    assert errors
    assert all(isinstance(error, RuntimeError) for error in errors), errors
    assert str(errors[0]) == "boom in the stream"
