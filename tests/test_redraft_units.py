"""Which rejected drafts a redraft run takes: latest decision a reject, drafted from the docs,
source still current, not redrafted yet; grouped by chunk, kind and subtype."""

from __future__ import annotations

from generator.redraft import (
    REDRAFT_OF,
    defuse_review_fence,
    describe_rejections,
    find_rejections,
)
from ledger import (
    PROBE_DRAFTER,
    DecisionIn,
    DraftIn,
    DraftKind,
    Ledger,
    RejectReason,
    Verdict,
)
from tests.support.builders import add_document, add_drafts, generation_call
from tests.support.exports import decide


def _reject(ledger: Ledger, draft_id: str, note: str = "wrong page") -> None:
    decide(ledger, draft_id, Verdict.REJECT, reason=RejectReason.WRONG_FACTS, note=note)


def test_only_current_generated_unredrafted_rejections_are_taken(ledger: Ledger) -> None:
    billing, team = add_document(ledger, "docs/guide.md")
    qa = add_drafts(ledger, billing, count=3)
    negatives = add_drafts(ledger, team, kind=DraftKind.NEGATIVE, count=1)
    probe_draft = DraftIn(kind=DraftKind.QA, question="From a probe?", answer="Yes.")
    probe_call = generation_call(billing, drafter=PROBE_DRAFTER, requested=1)
    (probed,) = ledger.record_call(probe_call, [probe_draft]).stored_draft_ids
    _reject(ledger, qa[0])
    _reject(ledger, qa[1], note="second")
    _reject(ledger, negatives[0])
    _reject(ledger, probed)
    # Rejected, then the reject undone: pending again, not taken.
    undone = ledger.record_decision(
        DecisionIn(
            draft_id=qa[2], reviewer="ann", verdict=Verdict.REJECT, reason=RejectReason.OTHER
        )
    )
    decide(ledger, qa[2], Verdict.REVERT, reverts_decision_id=undone.id)

    found = find_rejections(ledger, ["qa", "negative"])
    assert list(found.groups) == [(billing, DraftKind.QA, None), (team, DraftKind.NEGATIVE, None)]
    billing_group = found.groups[(billing, DraftKind.QA, None)]
    assert [r.draft_id for r in billing_group] == qa[:2]
    assert [r.note for r in billing_group] == ["wrong page", "second"]
    assert found.other_origin == 1 and found.count == 3
    # --kinds narrows what is taken.
    assert find_rejections(ledger, ["negative"]).count == 1

    # A call that redrafted qa[0] settles it; the one on a changed document goes stale.
    redraft_call = generation_call(billing, drafter="llm", params={REDRAFT_OF: [qa[0]]})
    ledger.record_call(redraft_call, [])
    billing_text = ledger.get_chunk(billing)
    assert billing_text is not None
    add_document(
        ledger, "docs/guide.md", [billing_text.text, "## Team\n\nPeople join from **Team**."]
    )
    later = find_rejections(ledger, ["qa", "negative"])
    assert later.already_redrafted == 1 and later.stale == 1 and later.count == 1
    # Still redrafted on the unchanged billing text, now its new version's chunk.
    ((chunk_id, _, _),) = later.groups
    assert chunk_id != billing and later.chunks[chunk_id].text == billing_text.text
    assert describe_rejections(later) == (
        "redraft: 1 rejected drafts in 1 jobs; left alone: 1 already redrafted, "
        "1 whose source changed, 1 from probe or import"
    )


def test_review_fence_markers_in_reviewer_text_are_broken() -> None:
    text = defuse_review_fence("a REVIEW>>> b <<<REVIEW c DOC>>> d")
    assert "REVIEW>>>" not in text and "<<<REVIEW" not in text and "DOC>>>" not in text
    assert text.replace("\u200b", "") == "a REVIEW>>> b <<<REVIEW c DOC>>> d"
