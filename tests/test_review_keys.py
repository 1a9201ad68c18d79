"""Every key path of the review app, asserting the rows it leaves in the ledger."""

from __future__ import annotations

from pathlib import Path

from ledger import Ledger, RejectReason, Verdict
from tests.support.review import make_app, seed_ledger, settle


def decisions(path: Path) -> list:
    with Ledger.open(path) as ledger:
        return list(ledger.iter_decisions())


async def test_approve_records_a_signed_decision(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        assert app.current.item.draft.id == ids[0]
        await pilot.press("a")
        await settle(pilot, app)
        assert app.current.item.draft.id == ids[1]
        assert app.counts.approved == 1
    rows = decisions(ledger_path)
    assert [(d.draft_id, d.verdict, d.reviewer) for d in rows] == [(ids[0], Verdict.APPROVE, "ann")]
    assert rows[0].shown_at is not None and rows[0].dwell_ms is not None
    assert rows[0].edit_distance == 0.0

