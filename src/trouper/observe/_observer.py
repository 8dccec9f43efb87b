"""The observer: what the page shows, computed from a live runtime in bounded size and time.

Theory of operation
-------------------
An ``Observer`` answers the page's questions (the tree, an actor's details,
topics, pools, the feed, a summary) as frozen values that turn into JSON.
It reads the cells directly (``_source``) and remembers only two things
between calls: the ``Collector`` that records what happened, and the last
*sample*.

A sample (``sample()``, called by the view at a fixed rate, 2 per second
by default, while a page follows it) walks every live cell once: it notes each one's ``handled``
count, so that the difference with the previous sample gives messages per
second, and totals the states. Rates are therefore free on the hot path and
cost one walk per sample, shared by every page that is open.

The tree is bounded whatever the runtime's size, so that a page never
freezes: a level shows at most ``page_size`` children (the rest are paged,
with a summary of the whole level by class and state), and the view holds
at most ``max_rows`` rows. Which nodes are open is decided breadth first:
nodes the page opened are open, nodes it closed are closed, and others are
opened while the budget lasts, so a small system shows whole and a large
one shows its top levels. Then rows are laid out depth first, as the page
draws them.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType

import attrs
import trio

from trouper._text import class_label
from trouper._validate import check_positive_int
from trouper.actors import ActorState
from trouper.observe._collect import Collector, Failure, Feed
from trouper.observe._metrics import Metrics
from trouper.observe._source import (
    attach,
    children,
    find,
    is_alive,
    mailbox_depth,
    restart_kind,
    restartable_from_spec,
    restarts,
    router_of,
    strategy_of,
    top_level,
    walk,
)
from trouper.runtime import RestartChild, Runtime, Supervisor
from trouper.runtime.lowlevel import Cell

__all__ = [
    "ActorDetails",
    "ActorRow",
    "LevelSummary",
    "Observer",
    "PoolInfo",
    "Summary",
    "TopicInfo",
    "TreeView",
]

_SHOWN = 20
"""Members of a pool, or subscribers of a topic, listed by name (the rest are counted)."""


@attrs.frozen
class ActorRow:
    """One actor as a row of the tree."""

    path: str
    """Its path, such as ``/bank/acct-1``."""
    actor_class: str
    """Its class name."""
    state: str
    """Its state (an ``ActorState`` value: ``running``, ``restarting``, ...)."""
    depth: int
    """1 for top-level actors, 2 for their children, ..."""
    mailbox: int
    """Messages waiting in its mailbox."""
    handled: int
    """Messages it has handled, across restarts."""
    rate: float | None
    """Messages it handled per second between the last two samples (``None``: not sampled yet)."""
    restarts: int
    """How many times it was restarted."""
    strategy: str | None
    """How it supervises its children, if it has any."""
    children: int
    """How many children it has."""
    open: bool
    """Whether its children are shown below it."""
    router: str | None
    """The router's name if it is a pool (``RoundRobin``, ``Balancing``, ...), else ``None``."""

    @property
    def name(self) -> str:
        """The last segment of its path."""
        return self.path.rpartition("/")[2]

    def to_json(self) -> dict[str, object]:
        """The row as the JSON API sends it."""
        return {
            "kind": "actor",
            "path": self.path,
            "name": self.name,
            "class": self.actor_class,
            "state": self.state,
            "depth": self.depth,
            "mailbox": self.mailbox,
            "handled": self.handled,
            "rate": None if self.rate is None else round(self.rate, 2),
            "restarts": self.restarts,
            "strategy": self.strategy,
            "children": self.children,
            "open": self.open,
            "router": self.router,
        }


@attrs.frozen
class LevelSummary:
    """A level with more children than a page: which page is shown, and the whole level counted."""

    parent: str
    """The parent's path (``/`` for the top level)."""
    depth: int
    """The depth of the children (1 for the top level)."""
    count: int
    """How many children the level has."""
    offset: int
    """The index of the first child shown."""
    page_size: int
    """How many children a page shows."""
    by_class: Mapping[str, int]
    """Children per class name, most common first."""
    by_state: Mapping[str, int]
    """Children per state, most common first."""
    rate: float
    """Messages the whole level handled per second."""

    def to_json(self) -> dict[str, object]:
        """The summary as the JSON API sends it."""
        return {
            "kind": "level",
            "parent": self.parent,
            "depth": self.depth,
            "count": self.count,
            "offset": self.offset,
            "page_size": self.page_size,
            "by_class": dict(self.by_class),
            "by_state": dict(self.by_state),
            "rate": round(self.rate, 2),
        }


@attrs.frozen
class TreeView:
    """The supervision tree as the page draws it: rows depth first, large levels paged."""

    time: float
    """Trio's clock when it was made."""
    actors: int
    """Live actors in the whole runtime when it was made, as the rows show the tree (most are
    not rows when it is large); not the last sample's count, which ``Summary.actors`` is."""
    rows: tuple[ActorRow | LevelSummary, ...]
    """Rows in drawing order; a ``LevelSummary`` comes before the page of children it sums up."""
    truncated: bool
    """Whether rows were left out because the view reached ``max_rows``."""

    def to_json(self) -> dict[str, object]:
        """The view as the JSON API sends it."""
        return {
            "time": self.time,
            "actors": self.actors,
            "rows": [row.to_json() for row in self.rows],
            "truncated": self.truncated,
        }


@attrs.frozen
class Summary:
    """The whole runtime in a few numbers, as of the last sample."""

    time: float
    """Trio's clock at the last sample."""
    actors: int
    """Live actors."""
    by_state: Mapping[str, int]
    """Live actors per state."""
    rate: float
    """Messages handled per second, all actors together."""
    restarts: int
    """Restarts since the observer was attached."""
    failures: int
    """Failures since the observer was attached."""
    dead_letters: int
    """Dead letters since the runtime started."""
    topics: int
    """Active topic subscriptions."""
    pools: int
    """Live pools."""

    def to_json(self) -> dict[str, object]:
        """The summary as the JSON API sends it."""
        return {
            "time": self.time,
            "actors": self.actors,
            "by_state": dict(self.by_state),
            "rate": round(self.rate, 2),
            "restarts": self.restarts,
            "failures": self.failures,
            "dead_letters": self.dead_letters,
            "topics": self.topics,
            "pools": self.pools,
        }


@attrs.frozen
class ActorDetails:
    """Everything the page shows about one actor when it is clicked."""

    row: ActorRow
    """What its tree row shows."""
    qualified_class: str
    """Its class with its module, such as ``bank.Account``."""
    mailbox_size: float
    """Its mailbox's capacity (``math.inf`` for unbounded)."""
    restart: str
    """Its restart kind: ``permanent``, ``transient`` or ``temporary``."""
    parent: str
    """Its parent's path (``/`` for top-level actors)."""
    child_paths: tuple[str, ...]
    """Its first children's paths (at most 20)."""
    subscriptions: tuple[str, ...]
    """The subject patterns it subscribes to."""
    failures: tuple[Failure, ...]
    """Its latest failures, oldest first, with tracebacks."""

    def to_json(self) -> dict[str, object]:
        """The details as the JSON API sends it."""
        size = self.mailbox_size
        return {
            **self.row.to_json(),
            "qualified_class": self.qualified_class,
            "mailbox_size": None if size == float("inf") else int(size),
            "restart": self.restart,
            "parent": self.parent,
            "child_paths": list(self.child_paths),
            "subscriptions": list(self.subscriptions),
            "failures": [failure.to_json() for failure in self.failures],
        }


@attrs.frozen
class TopicInfo:
    """One subject pattern and the actors subscribed to it."""

    pattern: str
    """The subject pattern."""
    subscribers: int
    """How many actors subscribe to it."""
    shown: tuple[str, ...]
    """The first subscribers' paths (at most 20)."""
    rate: float
    """Messages per second its subscribers handled (all they handled, not only this topic)."""
    dropped: int
    """Messages its subscriptions lost to full mailboxes."""

    def to_json(self) -> dict[str, object]:
        """The topic as the JSON API sends it."""
        return {
            "pattern": self.pattern,
            "subscribers": self.subscribers,
            "shown": list(self.shown),
            "rate": round(self.rate, 2),
            "dropped": self.dropped,
        }


@attrs.frozen
class PoolInfo:
    """One pool: its router and members."""

    path: str
    """The pool's path."""
    router: str
    """Its router's name."""
    members: int
    """How many members it has."""
    shown: tuple[ActorRow, ...]
    """The first members (at most 20)."""
    rate: float
    """Messages per second its members handled together."""
    queued: int
    """Messages waiting for its members (a shared mailbox counted once)."""

    def to_json(self) -> dict[str, object]:
        """The pool as the JSON API sends it."""
        return {
            "path": self.path,
            "router": self.router,
            "members": self.members,
            "shown": [row.to_json() for row in self.shown],
            "rate": round(self.rate, 2),
            "queued": self.queued,
        }


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())


class Observer:
    """Watches one runtime and answers what the page shows, bounded for any number of actors.

    ``with Observer(runtime) as observer:`` installs its ``collector`` and
    ``metrics`` on the runtime for the block. ``sample()`` takes the
    per-actor message counts that rates are computed from; the view calls
    it at a fixed rate while a page follows it. Every method belongs to the
    runtime's Trio thread and never waits, except ``stop`` and ``restart``.

    Args:
        runtime: the runtime to watch.
        metrics: a ``Metrics`` to install with the observer (and serve at
            ``/metrics``); by default one that counts without timing handlers
            and without OpenTelemetry (nothing per message).
        page_size: children of one level shown at a time.
        max_rows: rows a tree view holds at most.
        keep: feed entries kept.

    Raises:
        TypeError: ``runtime`` is not a ``trouper.Runtime`` (``trouper.aio``'s
            ``AioRuntime`` has it as ``rt.runtime``).
        ValueError: ``page_size``, ``max_rows`` or ``keep`` is not an int >= 1.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        metrics: Metrics | None = None,
        page_size: int = 50,
        max_rows: int = 300,
        keep: int = 500,
    ) -> None:
        if not isinstance(runtime, Runtime):
            # (an AioRuntime, most likely: its hooks and cells are its Trio runtime's)
            raise TypeError(
                "the view watches a trouper.Runtime (from trouper.aio, pass rt.runtime), "
                f"got {runtime!r}"
            )
        check_positive_int("page_size", page_size)
        check_positive_int("max_rows", max_rows)
        self.runtime = runtime
        """The runtime watched."""
        self.collector = Collector(keep=keep)
        """What happened: the feed and each actor's recent failures."""
        self.metrics = metrics if metrics is not None else Metrics(otel=False, histograms=False)
        """The metrics served at ``/metrics``."""
        self.page_size = page_size
        """Children of one level shown at a time."""
        self.max_rows = max_rows
        """Rows a tree view holds at most."""
        # Detach functions of the installed instruments (empty when not attached).
        self._detach: list[Callable[[], None]] = []
        # Each live cell's ``handled`` at the last sample.
        self._handled: dict[Cell, int] = {}
        # Each cell's messages per second between the last two samples.
        self._rates: dict[Cell, float] = {}
        # Trio's clock at the last sample (``None``: no sample yet).
        self._sampled_at: float | None = None
        # What the last sample counted, for ``summary()``.
        self._summary = Summary(0.0, 0, {}, 0.0, 0, 0, 0, 0, 0)
        # The last sample's topics and pools.
        self._topics: tuple[TopicInfo, ...] = ()
        self._topic_count = 0
        self._pools: tuple[PoolInfo, ...] = ()

    # --- attaching --------------------------------------------------------------------

    def attach(self) -> None:
        """Install the collector and the metrics on the runtime (``with`` does it)."""
        if self._detach:
            raise RuntimeError("the observer is attached already")
        self.metrics.include(self.runtime)
        self._detach = [attach(self.runtime, self.collector), attach(self.runtime, self.metrics)]

    def detach(self) -> None:
        """Remove what ``attach`` installed. Idempotent."""
        detach, self._detach = self._detach, []
        for undo in detach:
            undo()

    def __enter__(self) -> Observer:
        self.attach()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()

    # --- sampling -----------------------------------------------------------------------

    def sample(self) -> None:
        """Walk every live actor once: rates since the last sample, totals, topics and pools."""
        now = trio.current_time()
        elapsed = None if self._sampled_at is None else now - self._sampled_at
        if elapsed is not None and elapsed <= 0:
            return  # no time passed: the rates stand
        previous = self._handled
        handled: dict[Cell, int] = {}
        rates: dict[Cell, float] = {}
        states: Counter[str] = Counter()
        total = 0.0
        pools: list[Cell] = []
        for cell, _ in walk(self.runtime):
            count = handled[cell] = cell.handled
            states[cell.state.value] += 1
            if elapsed is not None:
                before = previous.get(cell)
                if before is not None:
                    rate = rates[cell] = (count - before) / elapsed
                    total += rate
            if router_of(cell) is not None and is_alive(cell):
                pools.append(cell)
        self._handled, self._rates, self._sampled_at = handled, rates, now
        self._sample_topics(handled)
        self._pools = tuple(self._pool(cell) for cell in pools[:100])
        live = sum(n for state, n in states.items() if state != ActorState.STOPPED.value)
        counts = self.collector.counts
        self._summary = Summary(
            time=now,
            actors=live,
            by_state=dict(states.most_common()),
            rate=total,
            restarts=counts["restarted"],
            failures=counts["failed"],
            dead_letters=self.runtime.dead_letters.count,
            topics=self._topic_count,
            pools=len(pools),
        )

    def _sample_topics(self, cells: Iterable[Cell]) -> None:
        registry = self.runtime.topics
        self._topic_count = len(registry)
        if not self._topic_count:
            self._topics = ()
            return
        subscribers: dict[str, list[Cell]] = {}
        dropped: Counter[str] = Counter()
        for cell in cells:
            for subscription in registry.subscriptions_of(cell.ref):
                subscribers.setdefault(subscription.pattern, []).append(cell)
                dropped[subscription.pattern] += subscription.dropped
        largest = sorted(subscribers.items(), key=lambda item: (-len(item[1]), item[0]))[:100]
        self._topics = tuple(
            TopicInfo(
                pattern=pattern,
                subscribers=len(members),
                shown=tuple(cell.address.path for cell in members[:_SHOWN]),
                rate=sum(self._rates.get(cell, 0.0) for cell in members),
                dropped=dropped[pattern],
            )
            for pattern, members in largest
        )

    def _pool(self, cell: Cell) -> PoolInfo:
        members = children(cell)
        mailboxes = {id(member.mailbox): len(member.mailbox) for member in members}
        return PoolInfo(
            path=cell.address.path,
            router=router_of(cell) or "",
            members=len(members),
            shown=tuple(
                self._row(member, member.address.path.count("/"), open=False)
                for member in members[:_SHOWN]
            ),
            rate=sum(self._rates.get(member, 0.0) for member in members),
            queued=sum(mailboxes.values()),
        )

    # --- reading ------------------------------------------------------------------------

    def summary(self) -> Summary:
        """The whole runtime in a few numbers, as of the last sample."""
        if self._sampled_at is None:
            self.sample()
        return self._summary

    def topics(self) -> tuple[TopicInfo, ...]:
        """Subject patterns and their subscribers, most subscribed first (at most 100)."""
        if self._sampled_at is None:
            self.sample()
        return self._topics

    def pools(self) -> tuple[PoolInfo, ...]:
        """Live pools with their members (at most 100), in tree order."""
        if self._sampled_at is None:
            self.sample()
        return self._pools

    def feed(self, since: int = 0, *, limit: int = 100) -> Feed:
        """What happened after entry ``since`` (see ``Collector.feed``)."""
        return self.collector.feed(since, limit=limit)

    def _row(self, cell: Cell, depth: int, *, open: bool, kids: int | None = None) -> ActorRow:
        return ActorRow(
            path=cell.address.path,
            actor_class=class_label(cell.actor_class),
            state=cell.state.value,
            depth=depth,
            mailbox=mailbox_depth(cell),
            handled=cell.handled,
            rate=self._rates.get(cell),
            restarts=restarts(cell),
            strategy=strategy_of(cell),
            children=len(children(cell)) if kids is None else kids,
            open=open,
            router=router_of(cell),
        )

    def _page(self, parent: str, count: int, pages: Mapping[str, int]) -> int:
        last = (count - 1) // self.page_size * self.page_size if count else 0
        offset = pages.get(parent, 0)
        return max(0, min(offset - offset % self.page_size, last))

    def tree(
        self,
        *,
        open: Iterable[str] = (),
        closed: Iterable[str] = (),
        pages: Mapping[str, int] | None = None,
    ) -> TreeView:
        """The tree as the page draws it, in at most ``max_rows`` rows.

        The rows and the count of live actors are the tree as it is now (a
        walk of every cell, to count them); only each row's ``rate`` is the
        last sample's (the first call takes one).

        Args:
            open: paths whose children to show (within the row budget).
            closed: paths whose children to hide.
            pages: per parent path (``/`` for the top level), the index of
                the first child to show; rounded down to a page.
        """
        if self._sampled_at is None:
            self.sample()
        opened, shut, pages = frozenset(open), frozenset(closed), pages or {}
        size, budget = self.page_size, self.max_rows
        # Breadth first: which nodes are open, and each open node's page of children.
        top = top_level(self.runtime)
        levels: dict[str, tuple[list[Cell], int]] = {"/": (top, self._page("/", len(top), pages))}
        kids_of: dict[Cell, list[Cell]] = {}

        def rows_of(count: int) -> int:
            return min(count, size) + (count > size)

        used = rows_of(len(top))
        queue = deque(top[levels["/"][1] : levels["/"][1] + size])
        while queue:
            cell = queue.popleft()
            kids = kids_of[cell] = children(cell)
            path = cell.address.path
            if not kids or path in shut:
                continue
            needed = rows_of(len(kids))
            if path in opened or used + needed <= budget:
                used += needed
                offset = self._page(path, len(kids), pages)
                levels[path] = (kids, offset)
                queue.extend(kids[offset : offset + size])
        # Depth first: the rows in drawing order.
        rows: list[ActorRow | LevelSummary] = []
        truncated = False
        stack = [self._level("/", 1, *levels["/"], rows)]
        while stack:
            shown = next(stack[-1], None)
            if shown is None:
                stack.pop()
                continue
            if len(rows) >= budget:
                truncated = True
                break
            depth = len(stack)
            level = levels.get(shown.address.path)
            rows.append(self._row(shown, depth, open=level is not None, kids=len(kids_of[shown])))
            if level is not None:
                if len(rows) >= budget:
                    truncated = True
                    break
                stack.append(self._level(shown.address.path, depth + 1, *level, rows))
        live = sum(1 for cell, _ in walk(self.runtime) if is_alive(cell))
        return TreeView(trio.current_time(), live, tuple(rows), truncated)

    def _level(
        self,
        parent: str,
        depth: int,
        cells: list[Cell],
        offset: int,
        rows: list[ActorRow | LevelSummary],
    ) -> Iterator[Cell]:
        """Add a level's summary row if it is paged; return an iterator over its page."""
        if len(cells) > self.page_size:
            rates = self._rates
            rows.append(
                LevelSummary(
                    parent=parent,
                    depth=depth,
                    count=len(cells),
                    offset=offset,
                    page_size=self.page_size,
                    by_class=_count(class_label(cell.actor_class) for cell in cells),
                    by_state=_count(cell.state.value for cell in cells),
                    rate=sum(rates.get(cell, 0.0) for cell in cells),
                )
            )
        return iter(cells[offset : offset + self.page_size])

    def actor(self, path: str) -> ActorDetails | None:
        """Everything about the actor at ``path``, or ``None`` if there is none."""
        cell = find(self.runtime, path)
        if cell is None:
            return None
        kids = children(cell)
        actor_class = cell.actor_class
        parent = cell.address.path.rpartition("/")[0] or "/"
        return ActorDetails(
            # (its own path: ``path`` may have more slashes, or none in front)
            row=self._row(cell, cell.address.path.count("/"), open=False, kids=len(kids)),
            qualified_class=f"{actor_class.__module__}.{actor_class.__qualname__}",
            mailbox_size=cell.mailbox.size,
            restart=restart_kind(cell),
            parent=parent,
            child_paths=tuple(kid.address.path for kid in kids[:_SHOWN]),
            subscriptions=tuple(s.pattern for s in self.runtime.topics.subscriptions_of(cell.ref)),
            failures=self.collector.failures(cell.address.path),
        )

    # --- control ------------------------------------------------------------------------

    async def stop(self, path: str) -> None:
        """Stop the actor at ``path`` for good and wait until it has stopped.

        Raises:
            LookupError: there is no actor at ``path``.
        """
        cell = find(self.runtime, path)
        if cell is None:
            raise LookupError(f"no actor at {path}")
        await self.runtime.stop(cell.ref)

    async def restart(self, path: str) -> None:
        """Restart the actor at ``path``: end its instance and start a fresh one (same ref).

        A ``Supervisor``'s child started from a spec that is not ``TEMPORARY``
        is restarted by its supervisor from that spec (``RestartChild``, which
        also starts it again once stopped); any other actor, such a
        supervisor's spawned or ``TEMPORARY`` children included (which
        ``RestartChild`` refuses), as ``Runtime.restart`` does.

        Raises:
            LookupError: there is no actor at ``path``.
            ActorError: it stopped for good, or its fresh instance failed to start.
        """
        cell = find(self.runtime, path)
        if cell is None:
            raise LookupError(f"no actor at {path}")
        owner = cell.parent.owner
        if (
            owner is not None
            and isinstance(owner.instance, Supervisor)
            and restartable_from_spec(cell)
        ):
            await owner.ref.ask(RestartChild(cell.child_id))
        else:
            await self.runtime.restart(cell.ref)
