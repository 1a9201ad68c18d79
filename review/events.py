"""What a review session tells its front end. Plain values, delivered on the session's thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ledger import Decision

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True)
class DraftShown:
    """``session.current`` changed or must be drawn again. ``loading``: no draft is current
    because the next one is still being claimed (rather than because none is left)."""

    loading: bool = False


@dataclass(frozen=True)
class StatusChanged:
    """Counts, remaining, position, filter or the status note changed."""


@dataclass(frozen=True)
class Notice:
    """Something the reviewer must be told (an error stops deciding until the session ends)."""

    text: str
    severity: Severity = "information"
    timeout: float | None = None


@dataclass(frozen=True)
class DecisionSaved:
    """The decision is committed: only now may a front end show it as saved."""

    decision: Decision


@dataclass(frozen=True)
class DecisionReverted:
    """The revert is committed and the draft is back in play."""

    revert: Decision


@dataclass(frozen=True)
class SessionClosed:
    """Quitting released every lease this session held; the front end may end."""


SessionEvent = (
    DraftShown | StatusChanged | Notice | DecisionSaved | DecisionReverted | SessionClosed
)
Listener = Callable[[SessionEvent], None]
