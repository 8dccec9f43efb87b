"""Testing: the pytest plugin, probes, virtual time and seeded simulation with faults.

Imports everything above it.
"""

__all__: list[str] = []
