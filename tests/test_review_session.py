"""The review session without any screen: a plain loop runs what its workers hand back, and the
ledger rows and events are what the app would have shown."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger import DraftIn, DraftKind, Ledger, RejectReason, Verdict
from ledger.queue import QueueFilter
from review import (
    DecisionReverted,
    DecisionSaved,
    DraftShown,
    ReviewSession,
    SessionClosed,
    SessionEvent,
)
from tests.support.builders import add_document, add_drafts
from tests.support.review import seed_ledger

WAIT_LIMIT_S = 60.0


class Host:
    """The session's thread: runs deliveries and records events."""

    def __init__(self, ledger_path: Path, reviewer: str = "ann", **options: Any) -> None:
        self.inbox: queue.Queue[Callable[[], None]] = queue.Queue()
        self.events: list[SessionEvent] = []
        self.session = ReviewSession(
            str(ledger_path),
            reviewer,
            deliver=self.inbox.put,
            listener=self.events.append,
            **options,
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


def _shown_ids(host: Host, count: int) -> list[str]:
    """Skip through ``count`` drafts, returning their ids in the order shown."""
    session = host.session
    seen = []
    for _ in range(count):
        host.settle()
        assert session.current is not None
        seen.append(session.current.item.draft.id)
        session.skip()
    host.settle()
    return seen


def test_a_skipped_draft_stays_out_for_the_session_whatever_the_filter(
    ledger_path: Path,
) -> None:
    with Ledger.open(ledger_path) as ledger:
        chunk = add_document(ledger)[0]
        qa = add_drafts(ledger, chunk, kind=DraftKind.QA, count=3)
        negatives = add_drafts(ledger, chunk, kind=DraftKind.NEGATIVE, count=2)
    host = Host(ledger_path)
    session = host.session
    session.start()
    host.settle()
    assert session.remaining == 5 and session.pos == 0
    session.skip()  # qa[0]
    host.settle()
    assert session.remaining == 4 and session.current.item.draft.id == qa[1]
    session.approve(session.current)
    host.settle()
    assert session.pos == 2 and session.remaining == 3  # qa[2] on screen

    session.apply_filter(QueueFilter(kind="qa"))
    host.settle()
    # The skipped draft and the decision keep their places; the new scan offers qa[2] only.
    assert session.current.item.draft.id == qa[2] and session.pos == 2
    assert session.remaining == 1
    session.skip()
    host.settle()
    assert session.current is None and session.remaining == 0

    session.apply_filter(QueueFilter())
    host.settle()
    assert [e.item.draft.id for e in session.history] == [qa[0], qa[1], qa[2], negatives[0]]
    assert session.pos == 3 and session.remaining == 2
    # Going back to a skipped draft and deciding it counts it once.
    for _ in range(3):
        session.previous()
    host.settle()
    assert session.current.item.draft.id == qa[0] and session.current.held
    session.approve(session.current)
    host.settle()
    assert session.remaining == 2 and session.counts.approved == 2
    host.quit()


def _draft(question: str, kind: DraftKind = DraftKind.QA, findings: bool = False) -> DraftIn:
    meta = {"findings": [{"check": "markup", "detail": "**"}]} if findings else {}
    return DraftIn(kind=kind, question=question, answer="Open Settings.", meta=meta)


def test_risk_order_puts_findings_first_then_kinds_with_near_duplicates_together(
    ledger_path: Path,
) -> None:
    with Ledger.open(ledger_path) as ledger:
        chunk = add_document(ledger)[0]
        clarify = add_drafts(ledger, chunk, [_draft("How do I export?", DraftKind.CLARIFY)])
        qa = add_drafts(
            ledger,
            chunk,
            [
                _draft("How do I download last month's invoices?"),
                _draft("Can I invite a contractor to my team?"),
                _draft("Where are the invoices for my plan?", findings=True),
                _draft("How can I download last month's invoice?"),
            ],
        )
        negative = add_drafts(
            ledger, chunk, [_draft("Does it run payroll?", DraftKind.NEGATIVE, findings=True)]
        )
    host = Host(ledger_path, order="risk")
    host.session.start()
    shown = _shown_ids(host, 6)
    # Findings first (a qa, then the negative), then the rest by kind; the two invoice
    # questions are near-duplicates and follow one another.
    assert shown == [qa[2], negative[0], qa[0], qa[3], qa[1], clarify[0]]
    assert host.session.current is None and host.session.remaining == 0
    host.quit()


def test_doc_and_kind_orders(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as ledger:
        other = add_document(ledger, "docs/a-other.md", ["## Limits\n\nNotes hold 500 words."])
        guide = add_document(ledger, "docs/b-guide.md", ["## Billing\n\nOpen Billing."])
        more = add_document(ledger, "docs/c-more.md", ["## Team\n\nOpen Team."])
        # Unlike questions: near-duplicates would be grouped, whatever the order.
        neg_b = add_drafts(ledger, more[0], [_draft("Is payroll there?", DraftKind.NEGATIVE)])[0]
        qa_b = add_drafts(ledger, guide[0], [_draft("Where do invoices live?")])[0]
        neg_a = add_drafts(ledger, other[0], [_draft("Can notes hold video?", DraftKind.NEGATIVE)])[
            0
        ]
    expected = {
        "doc": [neg_a, qa_b, neg_b],  # by path, then line
        "kind": [qa_b, neg_a, neg_b],  # Q&As first, then by path
        "created": [neg_b, qa_b, neg_a],
    }
    for order, ids in expected.items():
        host = Host(ledger_path, order=order)
        host.session.start()
        assert _shown_ids(host, 3) == ids, order
        host.quit()
