"""Review: a durable_ref's msg_id is kept for the dedup window its mailbox's host opened it with.

While the actor was stopped, a ``durable_ref`` (made without options) staged
its tells with the defaults' 120 s window, though the host had opened the
mailbox with ``dedup_window=None`` (remember for good): the same msg_id told
again once the actor was back, 200 s later, was stored and handled twice.
"""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Charge, OrderIds, sqlite

import trouper
from trouper.durable import Durable, durable_ref

FOR_GOOD = Durable(dedup_window=None)


async def test_a_msg_id_told_while_the_actor_is_stopped_is_kept_for_its_dedup_window(
    tmp_path: Path,
) -> None:
    """``dedup_window=None`` on the actor: the id told through the ref is kept for good."""
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(OrderIds, seen, name="rec", mailbox=FOR_GOOD)
        await rt.stop(ref)
        await durable_ref(rt, "rec").tell(Charge("first", 1), msg_id="o-1")
        await trio.sleep(200)  # past the default window of 120 s
        await rt.spawn(OrderIds, seen, name="rec", mailbox=FOR_GOOD)
        await durable_ref(rt, "rec").tell(Charge("again", 1), msg_id="o-1")
        await rt.store.flush()
        await trio.testing.wait_all_tasks_blocked()
    assert seen == ["first"]


async def test_a_ref_made_with_options_uses_them_until_a_host_opens_the_mailbox(
    tmp_path: Path,
) -> None:
    """Before any host opened the mailbox here, the ref's own options say the window."""
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = durable_ref(rt, "rec", options=Durable(dedup_window=10.0))
        await ref.tell(Charge("first", 1), msg_id="o-1")
        await trio.sleep(20)
        await ref.tell(Charge("second", 1), msg_id="o-1")  # the window is over
        await rt.spawn(OrderIds, seen, name="rec", mailbox=FOR_GOOD)
        await rt.store.flush()
        await trio.testing.wait_all_tasks_blocked()
    assert seen == ["first", "second"]
