"""Who is signed in, and who is reviewing now.

A browser session is the server's record behind the cookie: a random id bound to one reviewer
name at sign-in. The live registry holds at most one review app per reviewer name: opening the
review page reserves the name with a one-time ticket, the WebSocket that starts the app spends
it, and the name is free again once that app has ended. A second tab, a second browser or a
second person given the same token is told the name is already reviewing.

Everything here runs on the server's event loop thread; ``clock`` is injectable for tests.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

# A browser session lasts a working day; signing in again is one token paste.
SESSION_TTL_S = 12 * 3600.0
# The page reserves the name until its WebSocket connects; a page that never connects (closed
# at once, script blocked) must not hold the name for long.
PENDING_TTL_S = 30.0


@dataclass
class BrowserSession:
    id: str
    reviewer: str
    expires_at: float


@dataclass
class LiveReview:
    """One reviewer name's review app: reserved by a page (``connected`` False) or running."""

    reviewer: str
    ticket: str
    browser_session: str
    reserved_at: float
    connected: bool = False


class BrowserSessions:
    def __init__(self, clock: Clock = time.monotonic, ttl_s: float = SESSION_TTL_S) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._by_id: dict[str, BrowserSession] = {}

    def open(self, reviewer: str) -> BrowserSession:
        now = self._clock()
        self._by_id = {k: s for k, s in self._by_id.items() if s.expires_at > now}
        session = BrowserSession(secrets.token_urlsafe(32), reviewer, now + self._ttl_s)
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> BrowserSession | None:
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None or session.expires_at <= self._clock():
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)


class LiveReviews:
    """The live registry: reviewer name -> the one review app it may have."""

    def __init__(self, clock: Clock = time.monotonic, pending_ttl_s: float = PENDING_TTL_S):
        self._clock = clock
        self._pending_ttl_s = pending_ttl_s
        self._by_name: dict[str, LiveReview] = {}

    def _live(self, reviewer: str) -> LiveReview | None:
        held = self._by_name.get(reviewer)
        if held is None:
            return None
        if not held.connected and self._clock() - held.reserved_at > self._pending_ttl_s:
            del self._by_name[reviewer]  # a page that never opened its app
            return None
        return held

    def reviewing(self, reviewer: str) -> bool:
        return self._live(reviewer) is not None

    def reserve(self, session: BrowserSession) -> str | None:
        """A ticket for one review app under the session's name, or None if the name is
        already reviewing (or a page for it is opening)."""
        if self._live(session.reviewer) is not None:
            return None
        ticket = secrets.token_urlsafe(24)
        self._by_name[session.reviewer] = LiveReview(
            session.reviewer, ticket, session.id, self._clock()
        )
        return ticket

    def connect(self, ticket: str, session: BrowserSession) -> LiveReview | None:
        """Spend ``ticket``: only the browser session it was issued to, only once, only
        before it expires."""
        held = self._live(session.reviewer)
        if (
            held is None
            or held.connected
            or held.browser_session != session.id
            or not secrets.compare_digest(held.ticket, ticket)
        ):
            return None
        held.connected = True
        return held

    def release(self, live: LiveReview) -> None:
        if self._by_name.get(live.reviewer) is live:
            del self._by_name[live.reviewer]

    def names(self) -> list[str]:
        return sorted(name for name in list(self._by_name) if self._live(name) is not None)
