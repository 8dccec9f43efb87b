"""``ActorState``: where an actor is in its life, as trees and child lists show it."""

from __future__ import annotations

import enum

__all__ = ["ActorState"]


class ActorState(enum.Enum):
    """Where an actor is in its life."""

    STARTING = "starting"
    """Its instance is being created or is running ``on_start``."""
    RUNNING = "running"
    """Taking messages."""
    FAILED = "failed"
    """Its instance failed; its supervisor is deciding what to do."""
    RESTARTING = "restarting"
    """Between instances: stopping the old one, waiting out a backoff, or waiting to start."""
    STOPPING = "stopping"
    """Stopping for good: children, then ``on_stop``."""
    STOPPED = "stopped"
    """Stopped for good; its name is free and messages to it are dead letters."""
