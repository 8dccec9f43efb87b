"""Nodes over NATS: remote refs and asks, topics across nodes, JetStream mailboxes.

Imports ``trouper.runtime``, ``trouper.topics`` and ``trouper.durable``.
Not built yet; see the project's issues.
"""

__all__: list[str] = []
