"""Observability: the live web view of a runtime, OpenTelemetry metrics and tracing, actor logs.

May import ``trouper.runtime``, ``trouper.topics``, ``trouper.routing`` (with the actors and
supervision values beneath them; and Starlette, Hypercorn).
"""

from trouper._exports import publish
from trouper.observe._app import CONTROL_HEADER
from trouper.observe._collect import Collector, Failure, Feed, FeedItem
from trouper.observe._logging import ActorLogFilter, current_actor
from trouper.observe._metrics import BUCKETS, ClassMetrics, HistogramData, Metrics, MetricsSnapshot
from trouper.observe._observer import (
    ActorDetails,
    ActorRow,
    LevelSummary,
    Observer,
    PoolInfo,
    Summary,
    TopicInfo,
    TreeView,
)
from trouper.observe._serve import ServedView, open_view, serve
from trouper.observe._tracing import Tracing

__all__ = [
    "BUCKETS",
    "CONTROL_HEADER",
    "ActorDetails",
    "ActorLogFilter",
    "ActorRow",
    "ClassMetrics",
    "Collector",
    "Failure",
    "Feed",
    "FeedItem",
    "HistogramData",
    "LevelSummary",
    "Metrics",
    "MetricsSnapshot",
    "Observer",
    "PoolInfo",
    "ServedView",
    "Summary",
    "TopicInfo",
    "Tracing",
    "TreeView",
    "current_actor",
    "open_view",
    "serve",
]

publish(__name__, globals())
