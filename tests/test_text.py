"""One meaning of "the same text" for generate-time dedup and the audit."""

from __future__ import annotations

from audit.quality import compute_quality
from generator.dedup import DedupIndex
from ledger import DecisionIn, DraftIn, DraftKind, Ledger, Verdict
from ledger.text import normalise
from tests.support.builders import add_document, add_drafts


def test_normalise_folds_case_punctuation_and_spacing_but_keeps_letters() -> None:
    assert normalise("  Où est   le CAFÉ ? — «Menu»!") == "où est le café menu"
    assert normalise("Straße") == "strasse"
    assert normalise("Café") != normalise("Caf")


def test_dedup_and_audit_call_the_same_questions_exact_duplicates(ledger: Ledger) -> None:
    first, second = "Où est le café ?", "où est le CAFÉ"
    index = DedupIndex()
    index.add("qa", first)
    assert index.check("qa", second) == "duplicate_exact"

    chunk = add_document(ledger)[0]
    ids = add_drafts(
        ledger,
        chunk,
        [
            DraftIn(kind=DraftKind.QA, question=q, answer="Au rez-de-chaussée.")
            for q in (first, second)
        ],
    )
    for draft_id in ids:
        ledger.record_decision(
            DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE)
        )
    duplicates = compute_quality(ledger)["duplicates"]
    assert duplicates["exact_group_count"] == 1
    assert sorted(duplicates["exact_groups"][0]["draft_ids"]) == sorted(ids)
