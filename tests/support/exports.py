"""Ledgers with signed-off, rejected, pending and reverted drafts, for export and audit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger import DecisionIn, DraftKind, Ledger, RejectReason, Verdict
from tests.support.builders import add_document, add_drafts


@dataclass
class Mixed:
    """Draft ids by what the export must do with them."""

    approved: list[str] = field(default_factory=list)
    edited: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> final (q, a)
    rejected: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)  # sign-off reverted: now pending
    back_to_approve: list[str] = field(default_factory=list)  # approve, edit, edit reverted

    @property
    def exported(self) -> set[str]:
        return {*self.approved, *self.edited, *self.back_to_approve}


def decide(ledger: Ledger, draft_id: str, verdict: Verdict, **extra: object) -> str:
    decision = ledger.record_decision(
        DecisionIn(draft_id=draft_id, reviewer="ann", verdict=verdict, **extra)
    )
    return decision.id


def approve_all(ledger: Ledger, draft_ids: list[str], reviewer: str = "ann") -> None:
    for draft_id in draft_ids:
        ledger.record_decision(
            DecisionIn(draft_id=draft_id, reviewer=reviewer, verdict=Verdict.APPROVE)
        )


def build_mixed(ledger: Ledger) -> Mixed:
    """Two documents, qa and negative drafts, every kind of decision history."""
    mixed = Mixed()
    guide = add_document(ledger, "docs/guide.md")
    faq = add_document(
        ledger,
        "docs/faq.md",
        ["## Exports\n\nDownload CSV from **Reports > Export**.", "## SSO\n\nSSO is not offered."],
    )
    qa = add_drafts(ledger, guide[0], count=8)
    negatives = add_drafts(ledger, faq[1], kind=DraftKind.NEGATIVE, count=6)
    more_qa = add_drafts(ledger, faq[0], count=6)
    mixed.approved = qa[:4] + negatives[:3] + more_qa[:3]
    approve_all(ledger, mixed.approved)
    for index, draft_id in enumerate([qa[4], negatives[3]]):
        final = (f"Edited question {index}?", f"Edited answer {index}.")
        decide(ledger, draft_id, Verdict.EDIT, final_question=final[0], final_answer=final[1])
        mixed.edited[draft_id] = final
    decide(ledger, qa[5], Verdict.REJECT, reason=RejectReason.WRONG_FACTS)
    mixed.rejected.append(qa[5])
    for draft_id in [qa[6], negatives[4]]:
        signed = decide(ledger, draft_id, Verdict.APPROVE)
        decide(ledger, draft_id, Verdict.REVERT, reverts_decision_id=signed)
        mixed.reverted.append(draft_id)
    decide(ledger, qa[7], Verdict.APPROVE)
    edit = decide(ledger, qa[7], Verdict.EDIT, final_question="Q?", final_answer="A.")
    decide(ledger, qa[7], Verdict.REVERT, reverts_decision_id=edit)
    mixed.back_to_approve.append(qa[7])
    # A signed-off draft later rejected is not exported either.
    decide(ledger, more_qa[3], Verdict.APPROVE)
    decide(ledger, more_qa[3], Verdict.REJECT, reason=RejectReason.DUPLICATE)
    mixed.rejected.append(more_qa[3])
    mixed.pending = [negatives[5], *more_qa[4:]]
    return mixed
