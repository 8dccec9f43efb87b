"""``Nats``: the transport a runtime joins a cluster with (``transport=Nats(url)``)."""

from __future__ import annotations

import math
import ssl
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, cast

import attrs

from trouper.codec import MessageRegistry
from trouper.topics import parse_pattern, parse_subject

if TYPE_CHECKING:
    from trouper.remote._cluster import Cluster
    from trouper.runtime import Runtime

__all__ = ["Nats"]

DEFAULT_SERVER = "nats://127.0.0.1:4222"


def _servers(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [url for url in value.split(",") if url.strip()]
    servers = tuple(value)
    if not servers or not all(isinstance(url, str) for url in servers):
        raise ValueError(f"servers must be one NATS URL or several, got {value!r}")
    return servers


def _patterns(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError(f"topics must be a sequence of subject patterns, got {value!r}")
    patterns = tuple(value)
    for pattern in patterns:
        parse_pattern(pattern)
    return patterns


def _positive_seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{attribute.name} must be seconds > 0, got {value!r}")


def _prefix(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    parse_subject(value)


def _attempts(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    # (Checked when made, as every option: connect() would refuse it only as the node joins.)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{attribute.name} must be a count >= 0 or inf, got {value!r}")


def _count(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an int >= 0, got {value!r}")


@attrs.frozen
class Nats:
    """How a runtime joins a cluster of nodes: over NATS, through these servers.

    ``open_runtime(node="bank", transport=Nats("nats://127.0.0.1:4222"))``
    joins the cluster as node ``bank`` once the runtime runs and leaves it
    after the runtime's last actor has stopped (see ``Cluster``). A value:
    one ``Nats`` may serve several runtimes (each joins as its own node).
    Every option but ``servers`` is keyword-only. Raises ``ValueError`` (or
    ``InvalidSubject``) for an option out of range.
    """

    servers: tuple[str, ...] = attrs.field(default=(DEFAULT_SERVER,), converter=_servers)
    """The servers to connect to (URLs ``nats://[user:password@]host[:port]``, or ``tls://``)."""
    prefix: str = attrs.field(default="trouper", kw_only=True, validator=_prefix)
    """The subject every subject of the cluster starts with; clusters on one server differ by it."""
    heartbeat: float = attrs.field(default=1.0, kw_only=True, validator=_positive_seconds)
    """Seconds between two heartbeats of this node; a node silent for two of its own is gone."""
    topics: tuple[str, ...] = attrs.field(default=(">",), kw_only=True, converter=_patterns)
    """Patterns of the topic subjects shared with the cluster (the others stay on the node)."""
    backlog: int = attrs.field(default=10_000, kw_only=True, validator=_count)
    """Messages from other nodes held, all actors together, while their mailboxes are full."""
    registry: MessageRegistry | None = attrs.field(default=None, kw_only=True)
    """The message types messages are encoded with (default: ``trouper.codec``'s registry)."""
    user: str | None = attrs.field(default=None, kw_only=True)
    """User name for the servers (with ``password``)."""
    password: str | None = attrs.field(default=None, kw_only=True, repr=False)
    """Password for ``user``."""
    token: str | None = attrs.field(default=None, kw_only=True, repr=False)
    """Token for the servers (instead of a user)."""
    tls: ssl.SSLContext | None = attrs.field(default=None, kw_only=True)
    """A TLS context to connect with (``tls://`` URLs use the system's trust store)."""
    reconnect_wait: float = attrs.field(default=0.25, kw_only=True, validator=_positive_seconds)
    """Seconds before a server that failed is tried again (doubling per failure)."""
    reconnect_max_wait: float = attrs.field(default=2.0, kw_only=True, validator=_positive_seconds)
    """The longest wait between two tries of one server."""
    max_reconnect_attempts: float = attrs.field(default=math.inf, kw_only=True, validator=_attempts)
    """Failed tries in a row after which a server is given up (by default a node never gives up)."""
    connect_timeout: float = attrs.field(default=2.0, kw_only=True, validator=_positive_seconds)
    """Seconds one connection attempt (and its handshake) may take."""

    def attach(self, runtime: Runtime) -> AbstractAsyncContextManager[Cluster]:
        """Join the cluster as ``runtime.node`` while the returned context is entered.

        Called by the runtime (``open_runtime(transport=...)``), not by applications.
        """
        return cast("Cluster", runtime.extension("remote")).join(self)
