"""The review session without any screen: a plain loop runs what its workers hand back, and the
ledger rows and events are what the app would have shown."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path

from ledger import Ledger, RejectReason, Verdict
from ledger.queue import QueueFilter
from review import (
    DecisionReverted,
    DecisionSaved,
    DraftShown,
    ReviewSession,
    SessionClosed,
    SessionEvent,
)
from tests.support.review import seed_ledger

WAIT_LIMIT_S = 60.0


class Host:
    """The session's thread: runs deliveries and records events."""

    def __init__(self, ledger_path: Path, reviewer: str = "ann") -> None:
        self.inbox: queue.Queue[Callable[[], None]] = queue.Queue()
        self.events: list[SessionEvent] = []
        self.session = ReviewSession(
            str(ledger_path),
            reviewer,
            deliver=self.inbox.put,
            listener=self.events.append,
        )

    def run_until(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not done():
            assert time.monotonic() < deadline, "the session did not get there"
            try:
                self.inbox.get(timeout=0.01)()
            except queue.Empty:
                continue

    def settle(self) -> None:
        self.run_until(self.session.idle)

    def quit(self) -> None:
        self.session.quit()
        self.run_until(lambda: any(isinstance(e, SessionClosed) for e in self.events))
        self.session.close()


def rows(path: Path) -> list[tuple[str, Verdict]]:
    with Ledger.open(path) as ledger:
        return [(d.draft_id, d.verdict) for d in ledger.iter_decisions()]


def test_decide_undo_and_skip_leave_the_rows_the_app_leaves(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path, count=4)
    host = Host(ledger_path)
    session = host.session
    session.start()
    host.settle()
    assert session.current is not None and session.current.item.draft.id == ids[0]
    assert session.remaining == 4
    session.approve(session.current)
    assert session.saving and session.decidable() is None  # one decision at a time
    host.settle()
    saved = [e.decision for e in host.events if isinstance(e, DecisionSaved)]
    assert [(d.draft_id, d.verdict) for d in saved] == [(ids[0], Verdict.APPROVE)]
    assert session.current.item.draft.id == ids[1] and session.counts.approved == 1
    entry = session.decidable()
    assert entry is not None
    session.reject(entry, RejectReason.DUPLICATE, "same as the first")
    host.settle()
    assert session.undo()
    host.settle()
    assert [type(e) for e in host.events].count(DecisionReverted) == 1
    assert session.current.item.draft.id == ids[1] and session.current.held
    assert session.counts.rejected == 0 and session.remaining == 3
    assert session.skip()
    host.settle()
    assert session.current.item.draft.id == ids[2]
    host.quit()
    assert rows(ledger_path) == [
        (ids[0], Verdict.APPROVE),
        (ids[1], Verdict.REJECT),
        (ids[1], Verdict.REVERT),
    ]
    # Quitting gave every lease back: a second reviewer gets the skipped draft at once.
    other = Host(ledger_path, "bob")
    other.session.start()
    other.settle()
    assert other.session.current is not None
    assert other.session.current.item.draft.id == ids[1]
    other.quit()


def test_a_filter_change_starts_the_scan_again_under_the_new_filter(ledger_path: Path) -> None:
    seed_ledger(ledger_path, count=3)
    host = Host(ledger_path)
    session = host.session
    session.start()
    host.settle()
    session.apply_filter(QueueFilter(kind="negative"))
    assert host.events[-1] == DraftShown(loading=True)  # the undecided draft was given back
    host.settle()
    assert session.current is None and session.exhausted and session.remaining == 0
    host.quit()
    assert rows(ledger_path) == []
