"""Review 26: dead letters can be redriven to another mailbox (``redrive(..., to=...)``, ``--to``).

There was no way to hand a mailbox's dead letters to another actor (a fixed
handler deployed under a new name): only back to their own mailbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import Charge, make_store, serving, sqlite
from test_dead_letter_queue import bury

import trouper
from trouper.durable import Delivery, Durable, GiveUp, SqliteStore
from trouper.durable.__main__ import main as cli


class Seen(trouper.Actor):
    """Records each charge with its delivery's msg_id and attempt; gives up on ``bad`` ones."""

    def __init__(self, seen: list[tuple[str, str | None, int]]) -> None:
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.order_id, delivery.msg_id, delivery.attempt))
        if message.order_id.startswith("bad"):
            raise GiveUp("no use for it")


async def test_redrive_to_another_mailbox_hands_the_dead_letters_to_its_actor(
    tmp_path: Path,
) -> None:
    """Redriven ``to`` a running actor's mailbox, dead letters run there, deliveries from zero."""
    old: list[tuple[str, str | None, int]] = []
    new: list[tuple[str, str | None, int]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        first = await rt.spawn(Seen, old, name="orders", mailbox=Durable())
        await rt.spawn(Seen, new, name="orders-v2", mailbox=Durable())
        await first.tell(Charge("bad-1", 1), msg_id="m1")
        await first.tell(Charge("bad-2", 2))
        await trio.sleep(1)
        assert [d.mailbox async for d in rt.store.dead_letters()] == ["orders", "orders"]
        assert await rt.store.redrive("orders", to="orders-v2") == 2
        await trio.sleep(1)
        # Given up on there too: their dead letters are now the new mailbox's.
        assert [d.mailbox async for d in rt.store.dead_letters()] == ["orders-v2", "orders-v2"]
        counts = {m.name: (m.depth, m.dead) for m in await rt.store.mailbox_statistics()}
    assert old == [("bad-1", "m1", 1), ("bad-2", None, 1)]
    assert new == [("bad-1", "m1", 1), ("bad-2", None, 1)]
    assert counts == {"orders": (0, 0), "orders-v2": (0, 2)}


async def test_dead_letters_redriven_to_a_mailbox_nobody_hosts_wait_there(tmp_path: Path) -> None:
    """A mailbox no actor hosts is made: its messages wait, durable, for an actor of that name."""
    path = tmp_path / "s.db"
    async with make_store(path) as store:
        await bury(store, "orders", "a", "b")
        ids = [d.id async for d in store.dead_letters()]
        assert await store.redrive("orders", ids=ids[1:], to="later") == 1
        counts = {m.name: (m.depth, m.dead) for m in await store.mailbox_statistics()}
        assert counts == {"orders": (0, 1), "later": (1, 0)}
    async with make_store(path) as store, serving(store, "later") as queue:
        await store.flush()
        await trio.testing.wait_all_tasks_blocked()
        assert [(d.message, d.attempt) for d in queue.items] == [("b", 1)]  # type: ignore[attr-defined]


async def test_a_msg_id_the_target_already_saw_does_not_drop_the_redriven_message(
    tmp_path: Path,
) -> None:
    """The target's dedup window does not drop a redriven dead letter with an id it holds."""
    seen: list[tuple[str, str | None, int]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        first = await rt.spawn(Seen, [], name="orders", mailbox=Durable())
        target = await rt.spawn(Seen, seen, name="fixed", mailbox=Durable(dedup_window=None))
        await target.tell(Charge("ok-1", 1), msg_id="m1")
        await first.tell(Charge("bad-1", 1), msg_id="m1")
        await trio.sleep(1)
        assert await rt.store.redrive("orders", to="fixed") == 1
        await trio.sleep(1)
    assert seen[:2] == [("ok-1", "m1", 1), ("bad-1", "m1", 1)]


@pytest.mark.parametrize(
    ("to", "error", "said"),
    [
        (5, TypeError, r"^to is a durable mailbox's name or None, not 5$"),
        ("", ValueError, r"^the mailbox to redrive to must be a non-empty string, got ''$"),
        ("a/b", ValueError, r"^the mailbox to redrive to is one path segment: .*'a/b'$"),
        ("a b", ValueError, r"^the mailbox to redrive to cannot hold spaces .*'a b'$"),
    ],
)
async def test_a_target_that_could_name_no_mailbox_is_refused_changing_nothing(
    tmp_path: Path, to: object, error: type[Exception], said: str
) -> None:
    """``to`` must be a name an actor could have: otherwise nothing is redriven."""
    async with make_store(tmp_path / "s.db") as store:
        await bury(store, "orders", "a")
        with pytest.raises(error, match=said):
            await store.redrive("orders", to=to)  # type: ignore[arg-type]
        assert [d.mailbox async for d in store.dead_letters()] == ["orders"]


def _bury(path: Path, mailbox: str, *texts: str) -> None:
    async def run() -> None:
        async with make_store(path) as store:
            await bury(store, mailbox, *texts)

    trio.run(run)


def _state(path: Path) -> tuple[dict[str, tuple[int, int]], list[int]]:
    async def run() -> tuple[dict[str, tuple[int, int]], list[int]]:
        async with SqliteStore(path, synchronous="normal") as store:
            counts = {m.name: (m.depth, m.dead) for m in await store.mailbox_statistics()}
            return counts, [d.id async for d in store.dead_letters()]

    return trio.run(run)


def test_cli_redrive_to_another_mailbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``redrive STORE MAILBOX --id N --to OTHER`` moves that dead letter into OTHER."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a", "b")
    _bury(path, "fixed", "c")
    a, b, c = _state(path)[1]
    assert cli(["redrive", str(path), "orders", "--id", str(b), "--to", "fixed"]) == 0
    assert capsys.readouterr().out == "redrove 1 dead letter of 'orders' to 'fixed'\n"
    assert _state(path) == ({"fixed": (1, 1), "orders": (0, 1)}, [a, c])


def test_cli_redrive_to_a_new_mailbox_says_it_is_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A target the store never held is made, and the output says its messages wait there."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a", "b")
    assert cli(["redrive", str(path), "orders", "--all", "--to", "orders-v2"]) == 0
    assert capsys.readouterr().out == (
        "redrove 2 dead letters of 'orders' to 'orders-v2' (a mailbox new to the store: "
        "they wait there for an actor named 'orders-v2')\n"
    )
    assert _state(path) == ({"orders": (0, 0), "orders-v2": (2, 0)}, [])


def test_cli_redrive_to_a_name_no_mailbox_can_have_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--to`` with a name no actor could have: status 2, the reason, nothing changed."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a")
    with pytest.raises(SystemExit) as exited:
        cli(["redrive", str(path), "orders", "--all", "--to", "a/b"])
    assert exited.value.code == 2
    assert "--to: the mailbox to redrive to is one path segment" in capsys.readouterr().err
    assert _state(path) == ({"orders": (0, 1)}, _state(path)[1])
    assert len(_state(path)[1]) == 1


def test_cli_discard_takes_no_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--to`` is redrive's alone: ``discard --to`` is a usage error."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a")
    with pytest.raises(SystemExit) as exited:
        cli(["discard", str(path), "orders", "--all", "--to", "fixed"])
    assert exited.value.code == 2
    assert len(_state(path)[1]) == 1
