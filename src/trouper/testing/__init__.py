"""Testing: the pytest plugin, probes, virtual time and seeded simulation with faults.

Imports everything above it (actors, supervision, runtime, topics, routing).
"""

from trouper._exports import publish
from trouper.testing._durable_sim import (
    DurableExploration,
    DurableSimulation,
    DurableSimulationResult,
    explore_durable,
    run_durable_simulation,
)
from trouper.testing._faults import (
    Crash,
    Delay,
    Drop,
    Duplicate,
    Exponential,
    FaultPlan,
    InjectedCrash,
    Pause,
    Uniform,
)
from trouper.testing._nats_server import NatsServer, NatsServerError, TlsFiles, find_nats_server
from trouper.testing._probe import Received, TestProbe
from trouper.testing._simulation import (
    Deadlock,
    Exploration,
    MaxTimeExceeded,
    Simulation,
    SimulationResult,
    explore,
    run_simulation,
    simulate,
)
from trouper.testing._trace import Trace, TraceEvent, TraceKind
from trouper.testing._virtual_time import run_on_virtual_time

__all__ = [
    "Crash",
    "Deadlock",
    "Delay",
    "Drop",
    "Duplicate",
    "DurableExploration",
    "DurableSimulation",
    "DurableSimulationResult",
    "Exploration",
    "Exponential",
    "FaultPlan",
    "InjectedCrash",
    "MaxTimeExceeded",
    "NatsServer",
    "NatsServerError",
    "Pause",
    "Received",
    "Simulation",
    "SimulationResult",
    "TestProbe",
    "TlsFiles",
    "Trace",
    "TraceEvent",
    "TraceKind",
    "Uniform",
    "explore",
    "explore_durable",
    "find_nats_server",
    "run_durable_simulation",
    "run_on_virtual_time",
    "run_simulation",
    "simulate",
]

publish(__name__, globals())
