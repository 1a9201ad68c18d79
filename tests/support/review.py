"""Helpers for driving the review app under Pilot. Every wait is for a condition on the app's
state, bounded so that a hang fails the test instead of stalling it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.screen import Screen

from ledger import Ledger
from tests.support.builders import add_document, add_drafts
from tui.app import ReviewApp, ReviewScreen

# Generous: a loaded two-core machine can take seconds to schedule the app; a hang still ends.
WAIT_LIMIT_S = 60.0

ScreenT = TypeVar("ScreenT", bound=Screen[Any])


def idle(app: ReviewApp) -> bool:
    """Nothing in flight: no unsaved decision, no claim on its way, no draft awaited, no
    worker result waiting to be handled."""
    return app.session.idle()


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()`` holds (bounded, not a timing check)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_LIMIT_S:.0f} s")
        await pilot.pause(0.01)


async def settle(pilot: Pilot[Any], app: ReviewApp, on: type[Screen[Any]] = ReviewScreen) -> None:
    """Wait until an ``on`` screen is on top (a closed modal's result has been handed to the
    session) and the session has answered everything, and the app has handled it."""
    await pilot.pause()
    await wait_until(
        pilot, lambda: isinstance(app.screen, on) and idle(app), "the review session settling"
    )
    await pilot.pause()


async def wait_for_screen(pilot: Pilot[Any], app: ReviewApp, kind: type[ScreenT]) -> ScreenT:
    """Wait until a ``kind`` screen is on top with every widget mounted and no animation left
    (a modal pushed by a key press is composed over several turns of the event loop)."""

    def ready() -> bool:
        screen = app.screen
        return (
            isinstance(screen, kind)
            and screen.is_mounted
            and all(widget.is_mounted for widget in screen.walk_children())
        )

    await wait_until(pilot, ready, f"the {kind.__name__}")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, kind)
    return screen


def seed_ledger(path: Path, count: int = 5) -> list[str]:
    with Ledger.open(path) as ledger:
        chunk_ids = add_document(ledger)
        return add_drafts(ledger, chunk_ids[0], count=count)


def make_app(path: Path | str, reviewer: str = "ann", **kwargs: Any) -> ReviewApp:
    kwargs.setdefault("guidelines", "# Guidelines\n\nJudge against the source.")
    return ReviewApp(str(path), reviewer, **kwargs)
