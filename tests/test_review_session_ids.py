"""Review sessions, not names: leases and the one-decision rule per session; a ledger from
before decisions named their session upgrades; the source checked on screen; quitting after a
failed write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger import DecidedElsewhereError, DecisionIn, Ledger, Verdict, verify
from ledger.migrations import DECISION_SESSIONS_SCHEMA, SCHEMA_VERSION
from ledger.queue import ReviewQueue
from review import STALE_NOTE, DraftShown, Notice, SessionClosed
from tests.support.builders import add_document, add_drafts
from tests.support.review import seed_ledger
from tests.test_review_session import Host

CHANGED = [
    "## Billing\n\nInvoices now live under **Account > Documents**.",
    "## Team\n\nInvite people from **Team > Members** with **Invite member**.",
]


def test_another_session_under_the_same_name_cannot_decide_a_decided_draft(
    ledger: Ledger,
) -> None:
    (draft_id,) = add_drafts(ledger, add_document(ledger)[0], count=1)
    first = ledger.record_decision(
        DecisionIn(
            draft_id=draft_id,
            reviewer="ann",
            verdict=Verdict.REJECT,
            reason="other",
            session_id="S1",
        )
    )
    assert first.session_id == "S1"
    with pytest.raises(DecidedElsewhereError, match="ann in another review session"):
        ledger.record_decision(
            DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE, session_id="S2")
        )
    # Not even as a "second review": that needs a different person.
    with pytest.raises(DecidedElsewhereError):
        ledger.record_decision(
            DecisionIn(
                draft_id=draft_id,
                reviewer="ann",
                verdict=Verdict.APPROVE,
                session_id="S2",
                double_review=True,
            )
        )
    # The session that decided may undo and decide again.
    ledger.record_decision(
        first.undo_by("ann", first.decided_at).model_copy(update={"session_id": "S1"})
    )
    again = ledger.record_decision(
        DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE, session_id="S1")
    )
    assert again.session_id == "S1"
    assert verify(ledger) == []


def test_a_ledger_from_before_decision_sessions_upgrades(ledger_path: Path) -> None:
    with Ledger.open(ledger_path, upgrade_to=DECISION_SESSIONS_SCHEMA - 1) as old:
        ids = add_drafts(old, add_document(old)[0], count=3)
        queue = ReviewQueue(old, "ann")
        assert queue.claim_next().draft.id == ids[0]
        decided = old.record_decision(
            DecisionIn(draft_id=ids[0], reviewer="ann", verdict=Verdict.APPROVE)
        )
        head = old.head()
        assert "session_id" not in {r[1] for r in old.query("PRAGMA table_info(decisions)")}
    with Ledger.open(ledger_path) as new:
        assert new.schema_version() == SCHEMA_VERSION
        assert verify(new) == []  # old decisions keep their hashes
        assert new.head() == head
        (kept,) = new.decisions_for_draft(ids[0])
        assert kept.entry_hash == decided.entry_hash and kept.session_id is None
        # A decision from before knew no session: any session counts as another one.
        with pytest.raises(DecidedElsewhereError):
            new.record_decision(
                DecisionIn(
                    draft_id=ids[0],
                    reviewer="ann",
                    verdict=Verdict.REJECT,
                    reason="other",
                    session_id="S9",
                )
            )
        made = new.record_decision(
            DecisionIn(draft_id=ids[1], reviewer="ann", verdict=Verdict.APPROVE, session_id="S9")
        )
        assert made.session_id == "S9"
        assert verify(new) == []
        # The session id is in the hash: changing it is a break.
        new._db.execute("DROP TRIGGER decisions_no_update")
        new._db.execute("UPDATE decisions SET session_id = 'S1' WHERE id = ?", (made.id,))
        assert any(b.kind == "decision_hash" for b in verify(new))


def test_two_sessions_under_one_name_never_share_a_draft(ledger_path: Path) -> None:
    seed_ledger(ledger_path, count=6)
    first, second = Host(ledger_path, "ann"), Host(ledger_path, "ann")
    first.session.start()
    first.settle()
    second.session.start()
    second.settle()
    notices = [e.text for e in second.events if isinstance(e, Notice)]
    assert any("ann is already reviewing in 1 other session" in t for t in notices), notices
    assert not any("already reviewing" in e.text for e in first.events if isinstance(e, Notice))
    held_first = {e.item.draft.id for e in first.session.history} | {
        i.draft.id for i in first.session.ahead
    }
    held_second = {e.item.draft.id for e in second.session.history} | {
        i.draft.id for i in second.session.ahead
    }
    assert held_first and held_second and held_first.isdisjoint(held_second)
    first.quit()
    second.quit()


def test_a_draft_whose_source_changes_on_screen_is_marked_and_its_approve_confirmed(
    ledger_path: Path,
) -> None:
    with Ledger.open(ledger_path) as ledger:
        ids = add_drafts(ledger, add_document(ledger)[0], count=2)
    host = Host(ledger_path, "ann")
    session = host.session
    session.start()
    host.settle()
    entry = session.current
    assert entry is not None and entry.item.draft.id == ids[0] and not entry.item.stale
    session.check_source()
    host.settle()
    assert not entry.item.stale  # nothing changed yet
    with Ledger.open(ledger_path) as ledger:
        add_document(ledger, sections=CHANGED)
    shown = len(host.events)
    session.check_source()
    host.settle()
    assert entry.item.stale and session.note == STALE_NOTE
    assert any(isinstance(e, DraftShown) for e in host.events[shown:])
    assert not session.approve(entry)  # refused once, with a word why
    assert "press approve again" in [e for e in host.events if isinstance(e, Notice)][-1].text
    assert session.approve(entry)
    host.settle()
    with Ledger.open(ledger_path) as ledger:
        assert [d.verdict for d in ledger.decisions_for_draft(ids[0])] == [Verdict.APPROVE]
    host.quit()


def test_an_approve_just_after_the_source_changed_is_not_saved(ledger_path: Path) -> None:
    """Between two ticks: the check before the save refuses it and marks the draft."""
    with Ledger.open(ledger_path) as ledger:
        ids = add_drafts(ledger, add_document(ledger)[0], count=2)
    host = Host(ledger_path, "ann")
    session = host.session
    session.start()
    host.settle()
    entry = session.current
    assert entry is not None
    with Ledger.open(ledger_path) as ledger:
        add_document(ledger, sections=CHANGED)
    assert session.approve(entry)
    host.settle()
    assert entry.item.stale and session.current is entry and session.note.startswith("not saved")
    with Ledger.open(ledger_path) as ledger:
        assert ledger.decisions_for_draft(ids[0]) == []
    assert session.approve(entry)  # the reviewer has been told; this one is saved
    host.settle()
    with Ledger.open(ledger_path) as ledger:
        assert [d.verdict for d in ledger.decisions_for_draft(ids[0])] == [Verdict.APPROVE]
    host.quit()


def test_quitting_after_a_full_disk_closes_and_says_the_leases_expire(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ledger(ledger_path, count=3)
    host = Host(ledger_path, "ann")
    session = host.session
    session.start()
    host.settle()

    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    # Every write from here on fails: the decision, then the release at quit.
    monkeypatch.setattr(Ledger, "record_decision", full)
    monkeypatch.setattr(ReviewQueue, "release_session", full)
    entry = session.decidable()
    assert entry is not None
    session.approve(entry)
    host.settle()
    assert session.error is not None and "disk is full" in session.error
    host.quit()  # waits for SessionClosed
    closed = [e for e in host.events if isinstance(e, SessionClosed)]
    assert len(closed) == 1
    assert session.release_failed is not None and "expire on their own by" in session.release_failed
    warned = [e.text for e in host.events if isinstance(e, Notice) and "expire" in e.text]
    assert len(warned) == 1
