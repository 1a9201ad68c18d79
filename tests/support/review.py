"""Helpers for driving the review app under Pilot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from ledger import Ledger
from tests.support.builders import add_document, add_drafts
from tui.app import ReviewApp


def idle(app: ReviewApp) -> bool:
    """Nothing in flight: no unsaved decision, no claim on its way, no draft awaited, no
    worker result waiting to be handled."""
    return app.session.idle()


async def settle(pilot: Pilot[Any], app: ReviewApp) -> None:
    """Wait until the ledger thread has answered everything (bounded, not a timing check)."""
    for _ in range(500):
        await pilot.pause(0.01)
        if idle(app):
            await pilot.pause()
            return
    raise AssertionError("the review app did not settle")


def seed_ledger(path: Path, count: int = 5) -> list[str]:
    with Ledger.open(path) as ledger:
        chunk_ids = add_document(ledger)
        return add_drafts(ledger, chunk_ids[0], count=count)


def make_app(path: Path, reviewer: str = "ann", **kwargs: Any) -> ReviewApp:
    kwargs.setdefault("guidelines", "# Guidelines\n\nJudge against the source.")
    return ReviewApp(str(path), reviewer, **kwargs)
