"""Several reviewers on one ledger: leases, expiry, and blind double review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import DecisionIn, Ledger, RejectReason, Verdict, verify
from ledger.queue import PLAN_PAGE_SIZE, ReviewQueue, double_review_hit
from tests.support.review import make_app, seed_ledger, settle, wait_for_screen
from tui.modals import RejectScreen


async def test_two_apps_on_one_ledger_never_show_the_same_draft(ledger_path: Path) -> None:
    seed_ledger(ledger_path, count=8)
    ann = make_app(ledger_path, "ann")
    bob = make_app(ledger_path, "bob")
    async with ann.run_test() as ann_pilot, bob.run_test() as bob_pilot:
        await settle(ann_pilot, ann)
        await settle(bob_pilot, bob)
        for _ in range(3):
            await ann_pilot.press("a")
            await settle(ann_pilot, ann)
            await bob_pilot.press("a")
            await settle(bob_pilot, bob)
        ann_seen = {e.item.draft.id for e in ann.session.history}
        ann_seen |= {i.draft.id for i in ann.session.ahead}
        bob_seen = {e.item.draft.id for e in bob.session.history}
        bob_seen |= {i.draft.id for i in bob.session.ahead}
        assert ann_seen and bob_seen
        assert ann_seen.isdisjoint(bob_seen)
    with Ledger.open(ledger_path) as ledger:
        rows = list(ledger.iter_decisions())
        assert len(rows) == 6 and len({d.draft_id for d in rows}) == 6
        assert verify(ledger) == []


async def test_a_live_lease_is_respected_and_an_expired_one_taken_over(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path, count=3)
    now = datetime.now(UTC)
    with Ledger.open(ledger_path) as ledger:
        # A reviewer who crashed 11 minutes ago (lease 10 minutes) holds the first draft ...
        crashed = ReviewQueue(ledger, "cara", clock=lambda: now - timedelta(seconds=660))
        assert crashed.claim_next().draft.id == ids[0]
        # ... and one who is still at work holds the second.
        ReviewQueue(ledger, "dan").claim_next(after_rowid=1)
    app = make_app(ledger_path, "ann")
    async with app.run_test() as pilot:
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[0]  # expired: taken over
        assert [i.draft.id for i in app.session.ahead] == [ids[2]]  # dan's live lease skipped
        await pilot.press("a")
        await settle(pilot, app)
    with Ledger.open(ledger_path) as ledger:
        assert [d.reviewer for d in ledger.decisions_for_draft(ids[0])] == ["ann"]


async def test_double_review_goes_blind_to_a_second_reviewer_only(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path, count=3)
    with Ledger.open(ledger_path) as ledger:
        for draft_id in ids:
            ledger.record_decision(
                DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE)
            )
    # The first reviewer never gets her own decisions back.
    ann = make_app(ledger_path, "ann", double_review=1.0)
    async with ann.run_test() as pilot:
        await settle(pilot, ann)
        assert ann.session.current is None and ann.session.exhausted
    bob = make_app(ledger_path, "bob", double_review=1.0)
    async with bob.run_test() as pilot:
        await settle(pilot, bob)
        entry = bob.session.current
        assert entry.item.draft.id == ids[0] and entry.item.double_review
        card = str(bob.screen.query_one("#card").render())
        assert "second review (blind)" in card and "approved" not in card
        await pilot.press("r")
        await wait_for_screen(pilot, bob, RejectScreen)
        await pilot.press("1", "enter")
        await settle(pilot, bob)
        await pilot.press("q")
        await settle(pilot, bob)
    with Ledger.open(ledger_path) as ledger:
        second = ledger.decisions_for_draft(ids[0])[-1]
        assert (second.reviewer, second.verdict, second.double_review) == (
            "bob",
            Verdict.REJECT,
            True,
        )
        # Status follows the latest decision in force.
        assert ledger.draft_status(ids[0]).value == "rejected"
    # Once double-reviewed, a draft is not offered again, to anyone.
    cy = make_app(ledger_path, "cy", double_review=1.0)
    async with cy.run_test() as pilot:
        await settle(pilot, cy)
        assert cy.session.current.item.draft.id == ids[1]


def test_double_review_sample_is_deterministic_and_near_the_fraction() -> None:
    ids = [f"b2:{i:032x}" for i in range(2000)]
    sample = [i for i in ids if double_review_hit(i, 0.1)]
    assert sample == [i for i in ids if double_review_hit(i, 0.1)]
    assert 150 < len(sample) < 250
    assert not any(double_review_hit(i, 0.0) for i in ids)


def test_queue_releases_only_its_own_leases(ledger: Ledger) -> None:
    from tests.support.builders import add_document, add_drafts

    ids = add_drafts(ledger, add_document(ledger)[0], count=2)
    ann = ReviewQueue(ledger, "ann")
    bob = ReviewQueue(ledger, "bob")
    assert ann.claim_next().draft.id == ids[0]
    assert bob.release([ids[0]]) == 0  # not bob's to give back
    assert bob.claim_next().draft.id == ids[1]
    assert ann.release_session() == 1
    assert bob.claim_draft(ids[0]) is not None
    assert ann.claim_draft(ids[0]) is None


def test_a_second_session_under_one_name_waits_out_the_first_sessions_leases(
    ledger: Ledger,
) -> None:
    """Leases belong to a review session, not to a name: a second terminal under the same
    name (or a reopened app after a crash) is never handed the first session's drafts until
    their leases run out."""
    from tests.support.builders import add_document, add_drafts

    ids = add_drafts(ledger, add_document(ledger)[0], count=3)
    first = ReviewQueue(ledger, "ann")
    assert first.claim_next().draft.id == ids[0]  # then the process dies, lease still live
    second = ReviewQueue(ledger, "ann")
    assert second.other_sessions() == 1
    assert second.claim_draft(ids[0]) is None
    assert second.claim_next().draft.id == ids[1]
    after_expiry = datetime.now(UTC) + timedelta(seconds=first.lease_seconds + 1)
    third = ReviewQueue(ledger, "ann", clock=lambda: after_expiry)
    assert third.other_sessions() == 0
    assert third.claim_next().draft.id == ids[0]


def test_draft_status_follows_the_latest_decision_in_force(ledger: Ledger) -> None:
    from ledger import RejectReason
    from tests.support.builders import add_document, add_drafts

    draft_id = add_drafts(ledger, add_document(ledger)[0], count=1)[0]
    approve = ledger.record_decision(
        DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE)
    )
    reject = ledger.record_decision(
        DecisionIn(
            draft_id=draft_id,
            reviewer="bob",
            verdict=Verdict.REJECT,
            reason=RejectReason.UNSAFE,
            double_review=True,
        )
    )
    assert ledger.draft_status(draft_id).value == "rejected"
    ledger.record_decision(
        DecisionIn(
            draft_id=draft_id,
            reviewer="bob",
            verdict=Verdict.REVERT,
            reverts_decision_id=reject.id,
        )
    )
    assert ledger.draft_status(draft_id).value == "approved"
    ledger.record_decision(
        DecisionIn(
            draft_id=draft_id,
            reviewer="ann",
            verdict=Verdict.REVERT,
            reverts_decision_id=approve.id,
        )
    )
    assert ledger.draft_status(draft_id).value == "pending"
    assert ledger.status().drafts_by_kind == {"qa": {"pending": 1}}


def test_the_ledger_refuses_a_second_decision_outside_double_review(ledger: Ledger) -> None:
    """The rule leases serve, enforced where decisions are written: whatever a client's lease
    bookkeeping does, a draft decided by one reviewer cannot be decided by another, except
    as the one blind second review."""
    from ledger import DecidedElsewhereError
    from tests.support.builders import add_document, add_drafts

    draft_id = add_drafts(ledger, add_document(ledger)[0], count=1)[0]
    first = ledger.record_decision(
        DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE)
    )
    with pytest.raises(DecidedElsewhereError, match="decided by ann"):
        ledger.record_decision(
            DecisionIn(draft_id=draft_id, reviewer="bob", verdict=Verdict.APPROVE)
        )
    ledger.record_decision(
        DecisionIn(draft_id=draft_id, reviewer="bob", verdict=Verdict.APPROVE, double_review=True)
    )
    with pytest.raises(DecidedElsewhereError):  # only one second review
        ledger.record_decision(
            DecisionIn(
                draft_id=draft_id, reviewer="cy", verdict=Verdict.APPROVE, double_review=True
            )
        )
    # The first reviewer may still change her mind, and once she reverts, the draft is open.
    ledger.record_decision(
        DecisionIn(
            draft_id=draft_id, reviewer="ann", verdict=Verdict.REVERT, reverts_decision_id=first.id
        )
    )
    assert [d.reviewer for d in ledger.decisions_for_draft(draft_id)] == ["ann", "bob", "ann"]


async def test_a_draft_decided_elsewhere_meanwhile_is_not_saved_and_the_session_goes_on(
    ledger_path: Path,
) -> None:
    ids = seed_ledger(ledger_path, count=3)
    app = make_app(ledger_path, "ann")
    async with app.run_test() as pilot:
        await settle(pilot, app)
        shown = app.session.current.item.draft.id
        # A client that ignored ann's lease decides the draft on her screen.
        with Ledger.open(ledger_path) as ledger:
            ledger.record_decision(
                DecisionIn(
                    draft_id=shown,
                    reviewer="bob",
                    verdict=Verdict.REJECT,
                    reason=RejectReason.DUPLICATE,
                )
            )
        await pilot.press("a")
        await settle(pilot, app)
        assert app.session.error is None  # a warning, not a stop
        assert app.session.current is not None and app.session.current.item.draft.id != shown
        await pilot.press("a")
        await settle(pilot, app)
    with Ledger.open(ledger_path) as ledger:
        assert [d.reviewer for d in ledger.decisions_for_draft(shown)] == ["bob"]
        decided = [d.draft_id for d in ledger.iter_decisions() if d.reviewer == "ann"]
        assert len(decided) == 1 and decided[0] in ids and decided[0] != shown


async def test_an_undone_draft_keeps_its_lease_through_the_batch_release(
    ledger_path: Path,
) -> None:
    """Decide, undo, move on: the draft is back in play and still this reviewer's, so the
    release of decided drafts' leases must not include it."""
    seed_ledger(ledger_path, count=3)
    app = make_app(ledger_path, "ann")
    async with app.run_test() as pilot:
        await settle(pilot, app)
        first = app.session.current.item.draft.id
        await pilot.press("a")
        await settle(pilot, app)
        assert first in app.session.decided_leases
        await pilot.press("u")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == first and app.session.current.held
        assert first not in app.session.decided_leases


def test_a_planned_claim_passes_drafts_decided_or_leased_since_the_plan(
    ledger_path: Path,
) -> None:
    ids = seed_ledger(ledger_path, count=PLAN_PAGE_SIZE + 8)
    with Ledger.open(ledger_path) as ledger:
        ann = ReviewQueue(ledger, "ann")
        rows = ann.plan_rows()
        plan = [row.rowid for row in reversed(rows)]  # newest first
        by_rowid = {row.rowid: draft_id for row, draft_id in zip(rows, ids, strict=True)}
        # More than a page of the plan's head is decided, and the next draft is leased by bob.
        for rowid in plan[: PLAN_PAGE_SIZE + 2]:
            ledger.record_decision(
                DecisionIn(draft_id=by_rowid[rowid], reviewer="cy", verdict=Verdict.APPROVE)
            )
        held = ReviewQueue(ledger, "bob").claim_draft(by_rowid[plan[PLAN_PAGE_SIZE + 2]])
        assert held is not None
        first = ann.claim_next(0, plan=plan)
        assert first is not None and first.draft.id == by_rowid[plan[PLAN_PAGE_SIZE + 3]]
        second = ann.claim_next(
            first.cursor, exclude=[by_rowid[plan[PLAN_PAGE_SIZE + 4]]], plan=plan
        )
        assert second is not None and second.draft.id == by_rowid[plan[PLAN_PAGE_SIZE + 5]]
        assert ann.remaining(exclude=[by_rowid[plan[PLAN_PAGE_SIZE + 4]]]) == 5
