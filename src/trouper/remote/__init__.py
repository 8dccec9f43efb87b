"""Nodes over NATS: remote refs, asks and watches across processes, topics and queue groups.

Imports ``trouper.runtime``, ``trouper.topics``, ``trouper.codec`` and ``trouper.nats``.
"""

from trouper._exports import publish
from trouper.actors import ActorRef
from trouper.remote._cluster import Cluster, ClusterStatistics
from trouper.remote._endpoint import RemoteEndpoint
from trouper.remote._transport import Nats
from trouper.runtime import Runtime

__all__ = ["Cluster", "ClusterStatistics", "Nats", "RemoteEndpoint", "cluster_of", "locate"]


def cluster_of(runtime: Runtime) -> Cluster:
    """The cluster membership of ``runtime`` (its node, the nodes it hears, its counters).

    Raises:
        RuntimeError: the runtime has no transport (it was opened without one).
    """
    if runtime.transport is None:
        raise RuntimeError(
            "this runtime has no transport: open it with "
            "open_runtime(node=..., transport=trouper.remote.Nats(url)) to join a cluster"
        )
    cluster = runtime.extension("remote")
    assert isinstance(cluster, Cluster)
    return cluster


async def locate(runtime: Runtime, name: str) -> ActorRef[object] | None:
    """Find which node runs the actor registered as ``name``; a ref to it, or ``None``.

    ``cluster_of(runtime).locate(name)``: looks on this node first, then asks
    every node at once. The deadline is the caller's cancel scope.

    Raises:
        RuntimeError: the runtime has no transport, or this is called from
            outside the runtime's Trio run (another thread).
        NodeUnreachable: this node is cut off from the cluster (also when its
            connection drops while it waits: the answers may be lost).
    """
    return await cluster_of(runtime).locate(name)


publish(__name__, globals())
