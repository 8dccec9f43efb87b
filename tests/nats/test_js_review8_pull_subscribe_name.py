"""Review 8: ``pull_subscribe`` checks the consumer's name before it makes anything.

Given a ``config``, an empty ``durable`` went unchecked: the server made a
consumer anyway (an ephemeral one, or one named by ``config.name``), and the
``PullConsumer`` returned, named ``""``, could never pull (every pull
raised ``ValueError`` about the subject ``...MSG.NEXT.<stream>.``).
"""

from __future__ import annotations

import itertools

import pytest
import trio

from trouper.nats import ConsumerConfig, StorageType, StreamConfig, connect

pytestmark = pytest.mark.real_clock

_names = itertools.count()


@pytest.mark.parametrize("config", [ConsumerConfig(), ConsumerConfig(name="other")])
async def test_an_empty_durable_name_is_refused_and_makes_no_consumer(
    nats_url: str, config: ConsumerConfig
) -> None:
    """pull_subscribe(stream, "", config) raises ValueError and the stream has no consumer."""
    name = f"R8N{next(_names)}"
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], storage=StorageType.MEMORY)
            )
            try:
                with pytest.raises(
                    ValueError,
                    match=r"^a consumer name must be non-empty without '\.', '\*', '>' or "
                    r"spaces, got ''$",
                ):
                    await js.pull_subscribe(name, "", config)
                assert (await js.stream_info(name)).state.consumer_count == 0
            finally:
                await js.delete_stream(name)
