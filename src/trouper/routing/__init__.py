"""Routing: pools of actors behind one ref, with round-robin, balancing, hash and broadcast routers.

Imports ``trouper.runtime``.
"""

__all__: list[str] = []
