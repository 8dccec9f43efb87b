"""Durable delivery: persisted mailboxes, ack, retry with backoff, a dead-letter queue.

Imports ``trouper.runtime``. Not built yet; see the project's issues.
"""

__all__: list[str] = []
