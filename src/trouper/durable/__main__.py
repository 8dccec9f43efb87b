"""``python -m trouper.durable``: look into a store, redrive or discard its dead letters.

- ``inspect STORE [--json] [--limit N] [--import MODULE ...]`` prints each
  mailbox with its depth, ready, in-flight, delayed and dead counts, then the
  dead letters (id, type, attempts, the first line of the reason, and why its
  message does not decode here if it does not: the command line knows only
  the message classes of the modules given to ``--import``, and has no
  runtime to resolve refs). It only reads.
- ``redrive STORE MAILBOX (--id N ... | --all) [--to OTHER]`` moves those
  dead letters back to their mailbox, or to mailbox ``OTHER`` (deliveries
  from zero; one the store never held is made, and the output says their
  messages wait there for an actor of that name); ``discard`` with the same
  arguments but ``--to`` deletes them for good. Both take the store's lock, so they are
  refused while a runtime has the store open (from a running runtime, use
  ``rt.store.redrive`` and ``rt.store.discard``), and change nothing unless
  every id given is a dead letter of the mailbox.

Exit status 0; 1 with the reason on stderr if the file is not a store this
trouper can read (or is locked, or an id or the mailbox is not there); 1,
quietly, if the reader of the output stops early (``| head``); 2 for a
usage error, and for a module given to ``--import`` that cannot be imported
(the module and why on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from trouper._text import describe
from trouper.durable._inspect import (
    change_dead_letters,
    inspect_store,
    render_json,
    render_text,
)
from trouper.durable._store import checked_redrive_target
from trouper.errors import StoreError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m trouper.durable", description="Look into a trouper durable store."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect", help="mailboxes with their counts, and the dead letters with their reasons"
    )
    inspect.add_argument("store", help="the store file (e.g. shop.db)")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument(
        "--limit", type=int, default=100, help="dead letters to list at most (default 100)"
    )
    inspect.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help=(
            "import MODULE (e.g. shop.messages) before reading, so that the message types it "
            "registers show decoded (repeat for more; found as Python finds modules: the "
            "current directory, PYTHONPATH)"
        ),
    )
    for name, does in (
        ("redrive", "move dead letters back to their mailbox (deliveries from zero)"),
        ("discard", "delete dead letters for good"),
    ):
        command = commands.add_parser(name, help=does)
        command.add_argument("store", help="the store file (no runtime may have it open)")
        command.add_argument("mailbox", help="the mailbox whose dead letters these are")
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--id",
            dest="ids",
            type=int,
            action="append",
            metavar="ID",
            help="a dead letter's id, as inspect lists it (repeat for more)",
        )
        which.add_argument("--all", action="store_true", help="every dead letter of the mailbox")
        if name == "redrive":
            command.add_argument(
                "--to",
                metavar="MAILBOX",
                help=(
                    "move them to this mailbox instead of their own (deliveries from zero; "
                    "one the store never held is made, and they wait there for an actor of "
                    "that name)"
                ),
            )
    args = parser.parse_args(argv)
    if args.command != "inspect":
        to: str | None = getattr(args, "to", None)
        try:
            checked_redrive_target(to)
        except ValueError as error:
            parser.error(f"--to: {error}")
        return _change(args.command, args.store, args.mailbox, args.ids, to)
    if args.limit < 0:
        parser.error(f"--limit must be >= 0, got {args.limit}")
    for module in args.imports:
        problem = _import(module)
        if problem is not None:
            print(f"error: --import {module!r}: {problem}", file=sys.stderr)
            return 2
    if args.imports:
        hint = " (no module given to --import registers it: --import the one that does)"
    else:
        hint = " (--import the module that registers it to see it decoded)"
    try:
        report = inspect_store(args.store, limit=args.limit, unknown_type_hint=hint)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return _write(render_json(report) if args.json else render_text(report))


def _import(module: str) -> str | None:
    """Import ``module`` (a user's, registering message types); None, or why it failed.

    Whatever it prints goes to stderr, so that it cannot spoil the output
    (``--json`` read by a program). Anything it raises is reported, not shown
    as a traceback: a module's own error, or ``sys.exit`` called as it loads.
    """
    try:
        with contextlib.redirect_stdout(sys.stderr):
            importlib.import_module(module)
    except (Exception, SystemExit) as error:
        problem = f"cannot import it: {_said(error)}"
        if module.endswith(".py") or os.sep in module or "/" in module:
            problem += " (give a module's dotted name, such as shop.messages, not a file)"
        return problem
    return None


def _said(error: BaseException) -> str:
    """``Type: text`` of an error (``describe``'s form if its text cannot be made)."""
    try:
        text = str(error)
    except Exception:
        return describe(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _change(command: str, store: str, mailbox: str, ids: list[int] | None, to: str | None) -> int:
    try:
        count, made = change_dead_letters(
            store, mailbox, ids=ids, discard=command == "discard", to=to
        )
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    letters = "dead letter" if count == 1 else "dead letters"
    if command == "discard":
        return _write(f"discarded {count} {letters} of {mailbox!r}\n")
    if to is not None:
        they = "it waits" if count == 1 else "they wait"
        new = (
            f" (a mailbox new to the store: {they} there for an actor named {to!r})" if made else ""
        )
        return _write(f"redrove {count} {letters} of {mailbox!r} to {to!r}{new}\n")
    mailboxes = "its mailbox" if count == 1 else "their mailbox"
    return _write(f"redrove {count} {letters} of {mailbox!r} to {mailboxes}\n")


def _write(text: str) -> int:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader is gone: nothing more can be said, and the flush at exit must
        # not fail again (the recipe of Python's signal module documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
