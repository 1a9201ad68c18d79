"""Crash during review: SIGKILL review sessions at random moments; every acked decision stays."""

from __future__ import annotations

from pathlib import Path

from ledger import DecisionIn, Ledger, RejectReason, Verdict
from tests.reliability import review_crash
from tests.reliability.review_acts import Ack, ack_problems, edit_text, stored_decisions
from tests.support.review import seed_ledger

SEED = 6


def test_sigkill_during_review_loses_no_acknowledged_decision(tmp_path: Path) -> None:
    outcome = review_crash.run(review_crash.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == review_crash.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def test_a_driver_that_acks_without_committing_is_counted_lost(tmp_path: Path) -> None:
    """Negative control: the harness must see acknowledgements the ledger never got."""
    outcome = review_crash.run(2, tmp_path, SEED, driver_flags=("--ack-without-commit",))
    assert outcome.trials == 2
    assert outcome.lost >= 2, outcome.summary()
    assert all("not in the ledger" in f for f in outcome.findings if f.startswith("lost")), (
        outcome.summary()
    )


def test_a_driver_that_ends_before_the_kill_is_counted_crashed(tmp_path: Path) -> None:
    """Negative control: a driver that stops on its own (here: no drafts) is not a pass."""
    outcome = review_crash.run(1, tmp_path, SEED, drafts=0)
    assert outcome.crashed == 1, outcome.summary()
    assert "stdout closed after 0" in outcome.findings[0], outcome.summary()


def test_an_edit_stored_with_other_text_is_a_lost_decision(ledger_path: Path) -> None:
    """The check compares content, not just ids: an edit must carry what was typed."""
    draft_id = seed_ledger(ledger_path, count=1)[0]
    with Ledger.open(ledger_path) as ledger:
        question, _ = edit_text(draft_id)
        saved = ledger.record_decision(
            DecisionIn(
                draft_id=draft_id,
                reviewer="kim",
                verdict=Verdict.EDIT,
                final_question=question,
                final_answer="Something else entirely.",
            )
        )
        other = ledger.record_decision(
            DecisionIn(
                draft_id=draft_id,
                reviewer="kim",
                verdict=Verdict.REJECT,
                reason=RejectReason.OTHER,
                note="not the note the driver gives",
            )
        )
        stored = stored_decisions(ledger)
    problems = ack_problems(
        stored,
        [
            Ack(saved.id, draft_id, "edit", "control"),
            Ack(other.id, draft_id, "reject", "control"),
            Ack(saved.id, draft_id, "approve", "control"),
        ],
    )
    assert len(problems) == 3, problems
