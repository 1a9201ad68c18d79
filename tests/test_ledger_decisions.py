"""Decisions: append-only, hash-chained, validated; status from the latest live decision."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger import (
    DecisionIn,
    DecisionRejected,
    DraftStatus,
    Ledger,
    RejectReason,
    Verdict,
    verify,
)
from ledger.chain import GENESIS_HASH, decision_entry_hash
from tests.support.builders import add_document, add_drafts


@pytest.fixture
def draft_ids(ledger: Ledger) -> list[str]:
    chunk_ids = add_document(ledger)
    return add_drafts(ledger, chunk_ids[0], count=3)


def _decide(ledger: Ledger, draft_id: str, verdict: Verdict, **extra: object) -> str:
    return ledger.record_decision(
        DecisionIn(draft_id=draft_id, reviewer="ana", verdict=verdict, **extra)  # type: ignore[arg-type]
    ).id


def test_decisions_cannot_be_updated_or_deleted(
    ledger: Ledger, ledger_path: Path, draft_ids: list[str]
) -> None:
    _decide(ledger, draft_ids[0], Verdict.APPROVE)
    raw = sqlite3.connect(ledger_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE decisions SET verdict = 'reject'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM decisions")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        raw.execute("UPDATE drafts SET answer = 'changed'")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        raw.execute("DELETE FROM drafts")
    raw.close()
    assert ledger.draft_status(draft_ids[0]) is DraftStatus.APPROVED
    assert len(list(ledger.iter_decisions())) == 1


def test_each_decision_links_to_the_one_before(ledger: Ledger, draft_ids: list[str]) -> None:
    _decide(ledger, draft_ids[0], Verdict.APPROVE)
    _decide(ledger, draft_ids[1], Verdict.REJECT, reason=RejectReason.WRONG_FACTS)
    _decide(ledger, draft_ids[2], Verdict.EDIT, final_question="Q?", final_answer="A.")
    chain = list(ledger.iter_decisions())
    assert [d.seq for d in chain] == [1, 2, 3]
    assert chain[0].prev_hash == GENESIS_HASH
    assert [d.prev_hash for d in chain[1:]] == [d.entry_hash for d in chain[:-1]]
    for decision in chain:
        assert decision_entry_hash(decision.model_dump(mode="json")) == decision.entry_hash
    assert ledger.head().seq == 3 and ledger.head().hash == chain[-1].entry_hash
    assert verify(ledger) == []


def test_status_comes_from_the_latest_live_decision(ledger: Ledger, draft_ids: list[str]) -> None:
    draft = draft_ids[0]
    assert ledger.draft_status(draft) is DraftStatus.PENDING
    approve = _decide(ledger, draft, Verdict.APPROVE)
    assert ledger.draft_status(draft) is DraftStatus.APPROVED
    reject = _decide(ledger, draft, Verdict.REJECT, reason=RejectReason.DUPLICATE)
    assert ledger.draft_status(draft) is DraftStatus.REJECTED
    # Undo the reject: the approve before it is in force again.
    _decide(ledger, draft, Verdict.REVERT, reverts_decision_id=reject)
    assert ledger.draft_status(draft) is DraftStatus.APPROVED
    # Undo the approve too: back to pending, and back in the queue.
    _decide(ledger, draft, Verdict.REVERT, reverts_decision_id=approve)
    assert ledger.draft_status(draft) is DraftStatus.PENDING
    assert draft in [d.id for _, d in ledger.pending_drafts()]
    # Decide again after the undo.
    _decide(ledger, draft, Verdict.EDIT, final_question="New Q?", final_answer="New A.")
    assert ledger.draft_status(draft) is DraftStatus.EDITED
    assert draft not in [d.id for _, d in ledger.pending_drafts()]
    # Nothing was rewritten: five rows, in order.
    verdicts = [d.verdict for d in ledger.decisions_for_draft(draft)]
    assert verdicts == ["approve", "reject", "revert", "revert", "edit"]
    assert verify(ledger) == []


def test_a_revert_must_name_a_live_decision_on_the_same_draft(
    ledger: Ledger, draft_ids: list[str]
) -> None:
    approve = _decide(ledger, draft_ids[0], Verdict.APPROVE)
    with pytest.raises(DecisionRejected):
        _decide(ledger, draft_ids[1], Verdict.REVERT, reverts_decision_id=approve)
    with pytest.raises(DecisionRejected):
        _decide(ledger, draft_ids[0], Verdict.REVERT, reverts_decision_id=None)
    revert = _decide(ledger, draft_ids[0], Verdict.REVERT, reverts_decision_id=approve)
    # Reverting twice, or reverting a revert, is refused.
    with pytest.raises(DecisionRejected):
        _decide(ledger, draft_ids[0], Verdict.REVERT, reverts_decision_id=approve)
    with pytest.raises(DecisionRejected):
        _decide(ledger, draft_ids[0], Verdict.REVERT, reverts_decision_id=revert)
    assert len(list(ledger.iter_decisions())) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "edit needs"),
        ({"final_question": "Q?"}, "edit needs"),
        ({"final_question": "  ", "final_answer": "A."}, "edit needs"),
        ({"final_question": "Q?", "final_answer": "\n"}, "edit needs"),
    ],
)
def test_an_edit_needs_text(
    ledger: Ledger, draft_ids: list[str], extra: dict[str, str], message: str
) -> None:
    with pytest.raises(DecisionRejected, match=message):
        _decide(ledger, draft_ids[0], Verdict.EDIT, **extra)
    assert list(ledger.iter_decisions()) == []


def test_a_reject_needs_a_reason(ledger: Ledger, draft_ids: list[str]) -> None:
    with pytest.raises(DecisionRejected, match="reason"):
        _decide(ledger, draft_ids[0], Verdict.REJECT)
    _decide(ledger, draft_ids[0], Verdict.REJECT, reason=RejectReason.OTHER, note="tone")
    decision = ledger.decisions_for_draft(draft_ids[0])[0]
    assert decision.reason is RejectReason.OTHER and decision.note == "tone"


@pytest.mark.parametrize(
    "reviewer",
    ["", "   ", "\t\n", "\u200b\u2800", "\u202e\u2066\u3164", "\x1b\x9b\x00\x7f", "\ufeff.-"],
)
def test_an_unnamed_reviewer_is_refused(
    ledger: Ledger, draft_ids: list[str], reviewer: str
) -> None:
    with pytest.raises(DecisionRejected, match="reviewer"):
        ledger.record_decision(
            DecisionIn(draft_id=draft_ids[0], reviewer=reviewer, verdict=Verdict.APPROVE)
        )
    assert ledger.draft_status(draft_ids[0]) is DraftStatus.PENDING


def test_a_decision_on_an_unknown_draft_is_refused(ledger: Ledger) -> None:
    with pytest.raises(DecisionRejected, match="no draft"):
        ledger.record_decision(
            DecisionIn(draft_id="b2:nope", reviewer="ana", verdict=Verdict.APPROVE)
        )


def test_reviewer_name_is_stored_trimmed(ledger: Ledger, draft_ids: list[str]) -> None:
    decision = ledger.record_decision(
        DecisionIn(draft_id=draft_ids[0], reviewer="  ana ", verdict=Verdict.APPROVE)
    )
    assert decision.reviewer == "ana"
    assert ledger.decisions_for_draft(draft_ids[0])[0].reviewer == "ana"


def test_one_person_has_one_stored_name_whatever_invisible_characters_it_carries(
    ledger: Ledger, draft_ids: list[str]
) -> None:
    """NFC, invisible and control characters removed, whitespace runs made one space; so a
    second spelling of the same name is the same reviewer to the one-decision rule."""
    first = ledger.record_decision(
        DecisionIn(draft_id=draft_ids[0], reviewer="Jose\u0301", verdict=Verdict.APPROVE)
    )
    assert first.reviewer == "Jos\u00e9"
    spellings = {
        "alice\u200b": "alice",
        "\u202eal\x1bice\u2069": "alice",
        "ali\u00adce\ufe0f": "alice",
        "Ana\u3000\tMaria\u2800": "Ana Maria",
    }
    for raw, stored in spellings.items():
        decision = ledger.record_decision(
            DecisionIn(draft_id=draft_ids[1], reviewer=raw, verdict=Verdict.APPROVE)
        )
        assert decision.reviewer == stored
        ledger.record_decision(decision.undo_by(raw, decision.decided_at))
    ledger.record_decision(
        DecisionIn(draft_id=draft_ids[2], reviewer="alice", verdict=Verdict.APPROVE)
    )
    # The same person deciding again is not "another reviewer": no refusal, one name.
    ledger.record_decision(
        DecisionIn(draft_id=draft_ids[2], reviewer="alice\u200d", verdict=Verdict.APPROVE)
    )
    names = {d.reviewer for d in ledger.iter_decisions()}
    assert names == {"Jos\u00e9", "alice", "Ana Maria"}
    assert verify(ledger) == []


def test_a_clock_that_went_backwards_is_a_clock_anomaly_not_a_zero_dwell(
    ledger: Ledger, draft_ids: list[str]
) -> None:
    decision = ledger.record_decision(
        DecisionIn(
            draft_id=draft_ids[0],
            reviewer="ana",
            verdict=Verdict.APPROVE,
            shown_at="2026-11-22T10:00:05.000Z",
            decided_at="2026-11-22T10:00:04.999Z",
        )
    )
    assert decision.dwell_ms is None and decision.clock_anomaly
    (stored,) = ledger.decisions_for_draft(draft_ids[0])
    assert stored.clock_anomaly and stored.dwell_ms is None
    assert stored.shown_at == "2026-11-22T10:00:05.000Z"  # both times kept as given
    assert stored.decided_at == "2026-11-22T10:00:04.999Z"
    same_instant = ledger.record_decision(
        DecisionIn(
            draft_id=draft_ids[1],
            reviewer="ana",
            verdict=Verdict.APPROVE,
            shown_at="2026-11-22T10:00:05.000Z",
            decided_at="2026-11-22T10:00:05.000Z",
        )
    )
    assert same_instant.dwell_ms == 0 and not same_instant.clock_anomaly
    # Found by the identity category: a float product stored 4.012 s as 4011 ms.
    exact = ledger.record_decision(
        DecisionIn(
            draft_id=draft_ids[2],
            reviewer="ana",
            verdict=Verdict.APPROVE,
            shown_at="2026-11-22T10:00:00.000Z",
            decided_at="2026-11-22T10:00:04.012Z",
        )
    )
    assert exact.dwell_ms == 4012
    assert verify(ledger) == []


def test_edit_distance_is_recorded(ledger: Ledger, draft_ids: list[str]) -> None:
    draft = ledger.get_draft(draft_ids[0])
    assert draft is not None
    unchanged = ledger.record_decision(
        DecisionIn(
            draft_id=draft.id,
            reviewer="ana",
            verdict=Verdict.EDIT,
            final_question=draft.question,
            final_answer=draft.answer,
        )
    )
    assert unchanged.edit_distance == 0.0
    small = ledger.record_decision(
        DecisionIn(
            draft_id=draft_ids[1],
            reviewer="ana",
            verdict=Verdict.EDIT,
            final_question=ledger.get_draft(draft_ids[1]).question,  # type: ignore[union-attr]
            final_answer="Something else entirely, written from scratch by the reviewer.",
        )
    )
    assert small.edit_distance is not None and 0.3 < small.edit_distance <= 1.0
    approve = _decide(ledger, draft_ids[2], Verdict.APPROVE)
    assert ledger.decisions_for_draft(draft_ids[2])[0].id == approve
    assert ledger.decisions_for_draft(draft_ids[2])[0].edit_distance == 0.0


def test_dwell_is_computed_from_shown_and_decided(ledger: Ledger, draft_ids: list[str]) -> None:
    decision = ledger.record_decision(
        DecisionIn(
            draft_id=draft_ids[0],
            reviewer="ana",
            verdict=Verdict.APPROVE,
            shown_at="2026-11-22T10:00:00.000Z",
            decided_at="2026-11-22T10:00:07.250Z",
        )
    )
    assert decision.dwell_ms == 7250
    stored = ledger.decisions_for_draft(draft_ids[0])[0]
    assert stored.dwell_ms == 7250 and stored.shown_at == "2026-11-22T10:00:00.000Z"
    no_shown = ledger.record_decision(
        DecisionIn(draft_id=draft_ids[1], reviewer="ana", verdict=Verdict.APPROVE)
    )
    assert no_shown.dwell_ms is None
    assert no_shown.decided_at.endswith("Z")


def test_a_malformed_timestamp_is_refused_not_crashed(ledger: Ledger, draft_ids: list[str]) -> None:
    with pytest.raises(DecisionRejected, match="timestamp"):
        ledger.record_decision(
            DecisionIn(
                draft_id=draft_ids[0],
                reviewer="ana",
                verdict=Verdict.APPROVE,
                shown_at="22/11/2026 10:00",
            )
        )
    assert list(ledger.iter_decisions()) == []


@pytest.mark.parametrize("verdict", [Verdict.APPROVE, Verdict.REJECT, Verdict.EDIT])
def test_only_a_revert_may_name_a_decision_to_revert(
    ledger: Ledger, draft_ids: list[str], verdict: Verdict
) -> None:
    first = _decide(ledger, draft_ids[0], Verdict.APPROVE)
    with pytest.raises(DecisionRejected, match="only a revert"):
        _decide(
            ledger,
            draft_ids[0],
            verdict,
            reverts_decision_id=first,
            reason=RejectReason.OTHER if verdict is Verdict.REJECT else None,
            final_question="Q?",
            final_answer="A.",
        )
    assert ledger.draft_status(draft_ids[0]) is DraftStatus.APPROVED


def test_a_reject_reason_on_another_verdict_is_refused(
    ledger: Ledger, draft_ids: list[str]
) -> None:
    with pytest.raises(DecisionRejected, match="only a reject"):
        _decide(ledger, draft_ids[0], Verdict.APPROVE, reason=RejectReason.DUPLICATE)
    assert list(ledger.iter_decisions()) == []


def test_an_invisible_name_stored_before_normalising_signs_nothing_off(
    ledger: Ledger, draft_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ledger written before names were normalised can hold an approval by "\u200b\u2800".
    monkeypatch.setattr("ledger.store.reviewer_name", lambda raw: raw)
    ledger.record_decision(
        DecisionIn(draft_id=draft_ids[0], reviewer="\u200b\u2800", verdict=Verdict.APPROVE)
    )
    monkeypatch.undo()
    _decide(ledger, draft_ids[1], Verdict.APPROVE)
    assert [key.draft_id for key in ledger.iter_signed_off_keys()] == [draft_ids[1]]
