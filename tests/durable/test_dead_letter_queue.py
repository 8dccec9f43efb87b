"""The dead-letter queue: listing, redrive, discard, and the inspect command line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable, GiveUp, SqliteStore
from trouper.durable.__main__ import main as cli


async def bury(store: SqliteStore, mailbox: str, *texts: str) -> None:
    """Put each text in ``mailbox`` and give up on it at once."""
    async with serving(store, mailbox) as queue:
        taker = Taker()
        for text in texts:
            assert await queue.put(text)
            await taker.fail(queue, GiveUp(f"no use for {text}"))
        await store.flush()


async def test_dead_letters_never_expire(tmp_path: Path) -> None:
    """A dead letter is still listed years (of virtual time) later."""
    async with make_store(tmp_path / "s.db") as store:
        await bury(store, "orders", "a")
        await trio.sleep(5 * 365 * 86400)
        assert [d.payload async for d in store.dead_letters()] == [b"a"]


async def test_dead_letters_list_by_mailbox_oldest_first(tmp_path: Path) -> None:
    """Listing follows death order, filtered by mailbox when asked, a page at a time."""
    async with make_store(tmp_path / "s.db") as store:
        await bury(store, "orders", *(f"o{n}" for n in range(150)))
        await bury(store, "billing", "b0")
        everything = [d async for d in store.dead_letters()]
        billing = [d async for d in store.dead_letters("billing")]
    assert [d.payload for d in everything] == [f"o{n}".encode() for n in range(150)] + [b"b0"]
    assert [(d.mailbox, d.type_name, d.reason) for d in billing] == [
        ("billing", "str", "gave up: no use for b0")
    ]


async def test_redrive_puts_dead_letters_back_with_deliveries_reset(tmp_path: Path) -> None:
    """Redriven messages reach their live mailbox again as first deliveries."""
    options = Durable(max_deliveries=2, backoff=(1.0,))
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        assert await queue.put("flaky")
        taker = Taker()
        for _ in range(2):
            await taker.fail(queue, ValueError("down"))
        await store.flush()
        assert await store.redrive("box") == 1
        again = await taker.handle(queue)
        await store.flush()
        assert [d async for d in store.dead_letters()] == []
    assert (again.message, again.attempt) == ("flaky", 1)


async def test_redrive_and_discard_by_id(tmp_path: Path) -> None:
    """Given ids, only those dead letters are redriven or discarded."""
    async with make_store(tmp_path / "s.db") as store:
        await bury(store, "orders", "a", "b", "c")
        a, b, c = [d.id async for d in store.dead_letters()]
        assert await store.discard(ids=[b]) == 1
        assert await store.redrive("orders", ids=[c]) == 1
        (left,) = [d async for d in store.dead_letters()]
        (box,) = await store.mailbox_statistics()
    assert (left.id, box.depth, box.dead) == (a, 1, 1)


@pytest.mark.parametrize(
    ("mailbox", "ids", "problem"),
    [
        (None, ["x"], r"'x' is not one"),
        (None, "12", r"not '12'"),
        (None, [1.0], r"1\.0 is not one"),
        (None, 7, r"not 7"),
        (b"orders", None, r"not b'orders'"),
    ],
    ids=["a-text-id", "a-string", "a-float-id", "an-int", "a-bytes-name"],
)
@pytest.mark.parametrize("verb", ["redrive", "discard"])
async def test_a_choice_that_is_not_ids_is_refused_before_the_store_sees_it(
    tmp_path: Path, verb: str, mailbox: object, ids: object, problem: str
) -> None:
    """Bad ids raise ``TypeError`` and change nothing; the store goes on working."""
    async with make_store(tmp_path / "s.db") as store:
        await bury(store, "orders", "a", "b")
        with pytest.raises(TypeError, match=problem):
            await getattr(store, verb)(mailbox, ids=ids)
        assert len([d async for d in store.dead_letters()]) == 2
        assert await store.discard("orders", ids=()) == 0
        await store.flush()


async def test_discard_deletes_for_good(tmp_path: Path) -> None:
    """Discarded dead letters are gone after reopening."""
    path = tmp_path / "s.db"
    async with make_store(path) as store:
        await bury(store, "orders", "a", "b")
        assert await store.discard("orders") == 2
    async with make_store(path) as store:
        assert [d async for d in store.dead_letters()] == []


async def test_inspect_prints_mailboxes_and_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``inspect`` shows each mailbox's counts and each dead letter's first reason line."""
    path = tmp_path / "shop.db"
    async with make_store(path) as store:
        await bury(store, "orders", "o-2")
        async with serving(store, "billing") as queue:
            assert await queue.put("charge")
    assert cli(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"store {path} (schema version 2)\n"
        "\n"
        "mailbox  depth  ready  in flight  delayed  dead\n"
        "billing      1      1          0        0     0\n"
        "orders       0      0          0        0     1\n"
        "\n"
        "dead letters: 1\n"
        "  #1 orders str attempts=1: gave up: no use for o-2\n"
        # Stored by the tests' TextCodec: not the msgpack trouper's codec reads.
        "    not decoded: payload for 'str' is malformed: not valid msgpack "
        "(bytes left over after the value)\n"
    )


async def test_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` prints the same facts as JSON, payloads in hex."""
    path = tmp_path / "shop.db"
    async with make_store(path) as store:
        await bury(store, "orders", "o-2")
    assert cli(["inspect", "--json", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["mailboxes"] == [
        {"name": "orders", "depth": 0, "ready": 0, "in_flight": 0, "delayed": 0, "dead": 1}
    ]
    (dead,) = document["dead_letters"]
    assert (dead["payload"], dead["attempts"], dead["reason"]) == (
        b"o-2".hex(),
        1,
        "gave up: no use for o-2",
    )


def test_inspect_refuses_a_file_that_is_not_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-store file gives exit status 1 and the reason on stderr, and stays untouched."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
    before = path.read_bytes()
    assert cli(["inspect", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"error: '{path}' is not a trouper store: it is an SQLite database of another "
        "application (application_id 0)\n"
    )
    assert path.read_bytes() == before


@pytest.mark.real_clock
async def test_inspect_runs_as_a_module(tmp_path: Path) -> None:
    """``python -m trouper.durable inspect`` works from the command line."""
    path = tmp_path / "shop.db"
    async with make_store(path) as store:
        await bury(store, "orders", "o-2")
    with trio.fail_after(20):
        done = await trio.run_process(
            [sys.executable, "-m", "trouper.durable", "inspect", str(path)],
            capture_stdout=True,
            stderr=subprocess.STDOUT,
        )
    assert "gave up: no use for o-2" in done.stdout.decode()
