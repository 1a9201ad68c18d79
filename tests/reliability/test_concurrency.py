"""Concurrency: four reviewers and a generator on one ledger; plus the ledger-busy fix it pins."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import ledger.store
from ledger import DecisionIn, Ledger, LedgerLockedError, Verdict
from ledger.queue import ReviewQueue, double_review_hit
from review import BUSY_NOTE
from tests.reliability import concurrency
from tests.reliability.review_acts import alarming_lines, decided_twice, stored_decisions
from tests.support.builders import add_document, add_drafts
from tests.support.locks import lock_held_elsewhere
from tests.support.review import make_app, seed_ledger, settle

# A short busy timeout so "locked for longer than the timeout" takes a fraction of a second.
SHORT_BUSY_MS = 150


SEED = 6


def test_four_reviewers_and_a_generator_share_one_ledger(tmp_path: Path) -> None:
    outcome = concurrency.run(concurrency.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == concurrency.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def test_reviewers_that_ack_without_committing_are_counted_lost(tmp_path: Path) -> None:
    """Negative control: acknowledgements the ledger never got are found under load too."""
    outcome = concurrency.run(
        1,
        tmp_path,
        SEED,
        seconds=1.5,
        tui_reviewers=(),
        writer_flags=("--ack-without-commit",),
        with_generator=False,
    )
    assert outcome.lost > 0, outcome.summary()


def test_a_draft_decided_past_the_double_review_rule_is_counted(ledger: Ledger) -> None:
    """Negative control for the decided-twice check, on decisions written straight in."""
    chunk = add_document(ledger)[0]
    drafts = add_drafts(ledger, chunk, count=40)
    outside = next(d for d in drafts if not double_review_hit(d, concurrency.DOUBLE_REVIEW))
    inside = next(d for d in drafts if double_review_hit(d, concurrency.DOUBLE_REVIEW))
    decide(ledger, outside, "ann")
    decide(ledger, outside, "bob", double=True)  # two in force, not in the sample
    decide(ledger, inside, "ann")
    decide(ledger, inside, "bob", double=True)  # the allowed second review
    problems = decided_twice(stored_decisions(ledger), concurrency.DOUBLE_REVIEW)
    assert len(problems) == 1 and outside in problems[0], problems
    # A third in force: the ledger itself now refuses to write one (DecidedElsewhereError), so
    # it is added to what was read, as a client bypassing that rule would have left it.
    stored = stored_decisions(ledger)
    second = next(d for d in stored.values() if d.draft_id == inside and d.reviewer == "bob")
    third = second.model_copy(update={"id": "third", "seq": second.seq + 1, "reviewer": "cy"})
    assert len(decided_twice({**stored, third.id: third}, concurrency.DOUBLE_REVIEW)) == 2


def test_a_locked_ledger_or_traceback_on_stderr_is_alarming() -> None:
    stderr = (
        "draftgate: no LLM endpoint configured; drafting with the built-in rules drafter\n"
        "ledger busy, attempt 1: save the decision\n"
        "Traceback (most recent call last):\n"
        "sqlite3.OperationalError: database is locked\n"
    )
    assert alarming_lines(stderr) == stderr.splitlines()[2:]


def test_a_transaction_waits_again_while_asked_to(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ledger(ledger_path, count=1)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    with Ledger.open(ledger_path) as patient, lock_held_elsewhere(ledger_path) as release:
        attempts: list[int] = []

        def wait_again(attempt: int) -> bool:
            attempts.append(attempt)
            if attempt == 3:
                release.set()  # the other writer finishes while we are still waiting
            return True

        patient.wait_when_locked = wait_again
        with patient.transaction():
            pass
    assert attempts[:3] == [1, 2, 3]


def test_without_the_hook_a_long_lock_is_one_clear_error(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ledger(ledger_path, count=1)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    with (
        Ledger.open(ledger_path) as impatient,
        lock_held_elsewhere(ledger_path),
        pytest.raises(LedgerLockedError, match="stayed locked by another process"),
        impatient.transaction(),
    ):
        pass


async def test_review_waits_out_a_long_lock_and_saves_the_decision(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the concurrency work: a lock held past the busy timeout used to fail the save
    ("stayed locked ... try again") and then refuse every later decision until a restart."""
    draft_ids = seed_ledger(ledger_path, count=3)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    acks = io.StringIO()
    app = make_app(ledger_path, "kim", ack_stream=acks)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        with lock_held_elsewhere(ledger_path):
            await pilot.press("a")
            for _ in range(500):  # bounded wait for the busy message, not a timing check
                if app.session.note.startswith(BUSY_NOTE):
                    break
                await pilot.pause(0.01)
            assert app.session.note.startswith(BUSY_NOTE), app.session.note
            assert app.session.error is None
            assert acks.getvalue() == ""  # not shown as saved while uncommitted
        await settle(pilot, app)
        assert app.session.error is None
        await pilot.press("a")  # the session goes on deciding
        await settle(pilot, app)
    lines = acks.getvalue().splitlines()
    assert [line.split()[2:] for line in lines] == [
        [draft_ids[0], "approve"],
        [draft_ids[1], "approve"],
    ]
    with Ledger.open(ledger_path) as reopened:
        stored = {d.id: d for d in reopened.iter_decisions()}
    assert [stored[line.split()[1]].draft_id for line in lines] == draft_ids[:2]


def decide(
    ledger: Ledger,
    draft_id: str,
    reviewer: str,
    double: bool = False,
    session_id: str | None = None,
) -> None:
    ledger.record_decision(
        DecisionIn(
            draft_id=draft_id,
            reviewer=reviewer,
            verdict=Verdict.APPROVE,
            double_review=double,
            session_id=session_id,
        )
    )


def test_going_back_to_a_draft_another_reviewer_decided_is_read_only(ledger: Ledger) -> None:
    """Found by the concurrency harness: claim_draft (going back, undo) checked only leases, so
    a draft decided by someone else could be decided again, flagged as a double review."""
    draft_id = add_drafts(ledger, add_document(ledger)[0], count=1)[0]
    bob = ReviewQueue(ledger, "bob")
    decide(ledger, draft_id, "bob", session_id=bob.session_id)
    assert ReviewQueue(ledger, "ann").claim_draft(draft_id) is None
    assert bob.claim_draft(draft_id) is not None  # this session's own: shown
    bob.release([draft_id])
    # Another session under the same name is another reviewer as far as the draft goes.
    assert ReviewQueue(ledger, "bob").claim_draft(draft_id) is None


def test_going_back_allows_only_the_one_blind_second_review(ledger: Ledger) -> None:
    draft_id = add_drafts(ledger, add_document(ledger)[0], count=1)[0]
    decide(ledger, draft_id, "cy")
    # double review 1.0 puts every draft in the sample: one second review is open.
    dee = ReviewQueue(ledger, "dee", double_review=1.0)
    item = dee.claim_draft(draft_id)
    assert item is not None and item.double_review
    decide(ledger, draft_id, "dee", double=True)
    dee.release([draft_id])
    assert ReviewQueue(ledger, "ann", double_review=1.0).claim_draft(draft_id) is None


async def test_skip_then_back_after_another_reviewer_decided_records_nothing(
    ledger_path: Path,
) -> None:
    seed_ledger(ledger_path, count=3)
    ann = make_app(ledger_path, "ann")
    async with ann.run_test() as ann_keys:
        await settle(ann_keys, ann)
        assert ann.session.current is not None
        skipped = ann.session.current.item.draft.id
        await ann_keys.press("s")
        await settle(ann_keys, ann)
        bob = make_app(ledger_path, "bob")
        async with bob.run_test() as bob_keys:
            await settle(bob_keys, bob)
            assert bob.session.current is not None and bob.session.current.item.draft.id == skipped
            await bob_keys.press("a", "q")  # decide it, quit (the lease is released)
            await settle(bob_keys, bob)
        await ann_keys.press("p")
        await settle(ann_keys, ann)
        assert ann.session.current is not None and ann.session.current.item.draft.id == skipped
        assert not ann.session.current.held
        await ann_keys.press("a")
        await settle(ann_keys, ann)
    with Ledger.open(ledger_path) as reopened:
        assert [d.reviewer for d in reopened.decisions_for_draft(skipped)] == ["bob"]
