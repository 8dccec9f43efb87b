"""Topics: publish/subscribe over direct addressing, with NATS-style subjects.

Imports ``trouper.runtime``.
"""

__all__: list[str] = []
