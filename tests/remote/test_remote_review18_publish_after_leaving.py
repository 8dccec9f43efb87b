"""A publish on a subject the cluster shared is still checked to encode once the node has left.

Leaving took the relay off the runtime's topics, so from then on a publish on
a shared subject was not encoded at all: a message that could never cross
(an unregistered type, a field the codec cannot write) raised while the node
was in the cluster and passed once it had left (and while it was leaving), so
the sender's bug showed only in a race with the close. ``tell`` refuses such a
message to a node that is gone, or after this node left, alike (51e334b).
"""

from __future__ import annotations

import attrs
import pytest
from remote_support import Note

import trouper
from trouper.errors import UnencodableMessage, UnregisteredMessageType
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@attrs.frozen
class NotRegistered:
    """A message type no registry knows."""

    n: int


async def test_a_message_that_could_never_cross_is_refused_after_leaving(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Unregistered or unencodable on a shared subject: refused; elsewhere, or sound: published."""
    transport = Nats(cluster_server.url, prefix=prefix, heartbeat=0.5, topics=("news.>",))
    async with trouper.open_runtime(node="web", transport=transport) as web:
        with pytest.raises(UnregisteredMessageType):  # as while it is in the cluster
            await web.topics.publish("news.a", NotRegistered(0))
    assert not cluster_of(web).joined
    with pytest.raises(UnregisteredMessageType):
        await web.topics.publish("news.a", NotRegistered(1))
    with pytest.raises(UnencodableMessage):
        await web.topics.publish("news.a", Note("\ud800"))
    assert await web.topics.publish("news.a", Note("fine")) == 0
    assert await web.topics.publish("local.a", NotRegistered(2)) == 0  # never shared
