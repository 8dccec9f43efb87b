"""Topics: publish/subscribe over direct addressing, with NATS-style subjects and patterns.

Imports ``trouper.runtime`` and ``trouper.actors``; nothing above them.
"""

from trouper._exports import publish
from trouper.topics._registry import (
    SYSTEM_DEAD_LETTERS,
    SYSTEM_PREFIX,
    Overflow,
    Published,
    Subscription,
    TopicRegistry,
    system_subject,
)
from trouper.topics._subjects import (
    IndexStatistics,
    SubjectIndex,
    parse_pattern,
    parse_subject,
    pattern_matches,
)

__all__ = [
    "SYSTEM_DEAD_LETTERS",
    "SYSTEM_PREFIX",
    "IndexStatistics",
    "Overflow",
    "Published",
    "SubjectIndex",
    "Subscription",
    "TopicRegistry",
    "parse_pattern",
    "parse_subject",
    "pattern_matches",
    "system_subject",
]

publish(__name__, globals())
