"""``python -m trouper.durable inspect STORE [--json] [--limit N]``: look into a store.

Prints each mailbox with its depth, ready, in-flight, delayed and dead
counts, then the dead letters (type, attempts, the first line of the
reason). Exit status 0, or 1 with the reason on stderr if the file is not a
store this trouper can read; 1, quietly, if the reader of the output stops
early (``| head``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from trouper.durable._inspect import inspect_store, render_json, render_text
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
    args = parser.parse_args(argv)
    if args.limit < 0:
        parser.error(f"--limit must be >= 0, got {args.limit}")
    try:
        report = inspect_store(args.store, limit=args.limit)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        sys.stdout.write(render_json(report) if args.json else render_text(report))
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
