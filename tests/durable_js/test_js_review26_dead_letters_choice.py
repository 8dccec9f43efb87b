"""Review 26: ``dead_letters`` on JetStream refuses a mailbox that is no name, as SQLite's does.

It raised whatever its subject escaping met (``TypeError: 'int' object is not
iterable``, ``AttributeError`` for bytes), where ``redrive``, ``discard`` and
``SqliteStore.dead_letters`` say what was wrong.
"""

from __future__ import annotations

import pytest
from js_support import store_for

import trouper
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("mailbox", [5, b"jobs"], ids=["int", "bytes"])
async def test_dead_letters_of_a_mailbox_that_is_no_name_raise_type_error(
    js_server: NatsServer, prefix: str, mailbox: object
) -> None:
    """``TypeError`` saying a mailbox is a name or None."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        with pytest.raises(TypeError, match=r"^mailbox is a durable mailbox's name or None, not "):
            [r async for r in rt.store.dead_letters(mailbox)]  # type: ignore[arg-type]
