"""The review stage: a reviewer's session over the review queue, independent of any screen.

Imports ``ledger`` only; a front end (the Textual app, a headless driver) calls the session's
methods and draws what its events say.
"""

from review.events import (
    DecisionReverted,
    DecisionSaved,
    DraftShown,
    Listener,
    Notice,
    SessionClosed,
    SessionEvent,
    StatusChanged,
)
from review.session import (
    BUSY_NOTE,
    RELEASE_BATCH,
    SOURCE_CHECK_S,
    STALE_NOTE,
    Entry,
    ReviewSession,
    SessionCounts,
)

__all__ = [
    "BUSY_NOTE",
    "RELEASE_BATCH",
    "SOURCE_CHECK_S",
    "STALE_NOTE",
    "DecisionReverted",
    "DecisionSaved",
    "DraftShown",
    "Entry",
    "Listener",
    "Notice",
    "ReviewSession",
    "SessionClosed",
    "SessionCounts",
    "SessionEvent",
    "StatusChanged",
]
