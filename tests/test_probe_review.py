"""Probe drafts in review: the origin filter (command line, filter dialog, queue) and the card
that shows what the tuned model said and why it failed."""

from __future__ import annotations

import json
from pathlib import Path

from audit import build_audit, render_html, render_markdown, render_terminal_summary
from draftgate.cli import build_parser
from ledger import PROBE_DRAFTER, DraftIn, DraftKind, Ledger, Verdict
from ledger.queue import QueueFilter, ReviewQueue
from tests.support.builders import add_document, add_drafts, generation_call
from tests.support.review import make_app, settle, wait_for_screen
from tui.modals import FilterScreen
from tui.render import badge, card_text

PROBE_META = {
    "run_id": "run-1",
    "model": "acme-tuned",
    "model_answer": "Open the Dashboard and click Invoices.",
    "reasons": ["treats “Dashboard” as real: “Open the Dashboard and click Invoices.”"],
    "reference_draft_id": "b2:reference",
}


def seed(path: Path) -> tuple[list[str], str]:
    """Three drafted Q&As and one probe draft after them."""
    with Ledger.open(path) as ledger:
        chunks = add_document(ledger)
        drafted = add_drafts(ledger, chunks[0], count=3)
        call = generation_call(chunks[0], drafter=PROBE_DRAFTER, kind=DraftKind.ADVERSARIAL)
        draft = DraftIn(
            kind=DraftKind.ADVERSARIAL,
            subtype="wrong_ui_name",
            question="Where is the Dashboard?",
            answer="There is no Dashboard; open Settings > Billing > Invoices.",
            meta={"wrong_name": "Dashboard", "probe": PROBE_META},
        )
        [probe_id] = ledger.record_call(call, [draft]).stored_draft_ids
    return drafted, probe_id


def test_the_queue_filters_by_origin(ledger_path: Path) -> None:
    drafted, probe_id = seed(ledger_path)
    with Ledger.open(ledger_path) as ledger:
        counts = {
            origin: ReviewQueue(ledger, "ann", filters=QueueFilter(origin=origin)).remaining()
            for origin in ("generate", "probe", "import")
        }
        assert counts == {"generate": 3, "probe": 1, "import": 0}
        queue = ReviewQueue(ledger, "ann", filters=QueueFilter(origin="probe"))
        item = queue.claim_next()
        assert item is not None and item.draft.id == probe_id and item.origin == "probe"
        plain = ReviewQueue(ledger, "bo").claim_next()
        assert plain is not None and plain.draft.id == drafted[0] and plain.origin == "generate"
    assert QueueFilter(origin="probe").describe() == "origin=probe"


def test_review_takes_origin_on_the_command_line() -> None:
    args = build_parser("review").parse_args(["review", "--origin", "probe"])
    assert args.origin == "probe"


def test_the_card_shows_the_models_answer_and_why_it_failed(ledger_path: Path) -> None:
    _, probe_id = seed(ledger_path)
    with Ledger.open(ledger_path) as ledger:
        item = ReviewQueue(ledger, "ann", filters=QueueFilter(origin="probe")).claim_next()
    assert item is not None
    text = card_text(item, None, True).plain
    assert "What acme-tuned answered\nOpen the Dashboard and click Invoices." in text
    assert "✗ treats “Dashboard” as real" in text
    assert "Signed answer (start from it)\nThere is no Dashboard" in text
    assert "from probe" in badge(item).plain


async def test_the_filter_dialog_narrows_the_queue_to_probe_drafts(ledger_path: Path) -> None:
    _, probe_id = seed(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        assert app.session.current.item.origin == "generate"
        await pilot.press("f")
        dialog = await wait_for_screen(pilot, app, FilterScreen)
        dialog.query_one("#origin").value = "probe"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == probe_id
        assert app.session.remaining == 1
        await pilot.press("a")
        await settle(pilot, app)
    with Ledger.open(ledger_path) as ledger:
        [decision] = list(ledger.iter_decisions())
        assert (decision.draft_id, decision.verdict) == (probe_id, Verdict.APPROVE)
        assert ledger.status().drafts_by_origin == {
            "generate": {"pending": 3},
            "probe": {"approved": 1},
        }


def test_the_audit_counts_drafts_by_origin_in_every_format(ledger_path: Path) -> None:
    seed(ledger_path)
    with Ledger.open(ledger_path) as ledger:
        audit = build_audit(
            ledger, [], fast_decision_ms=2000, target_mix={}, glossary_names=[], parallel=False
        )
    assert audit.drafts_by_origin == {"generate": {"pending": 3}, "probe": {"pending": 1}}
    assert json.loads(audit.to_json())["drafts_by_origin"]["probe"] == {"pending": 1}
    markdown = render_markdown(audit)
    assert "## Drafts by origin" in markdown and "| probe | 1 | 0 | 0 | 0 | 1 |" in markdown
    assert '<h2 id="origins">Drafts by origin</h2>' in render_html(audit)
    assert any("probe 1 (1 pending)" in line for line in render_terminal_summary(audit))


def test_an_audit_of_drafted_examples_alone_has_no_origin_section(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as ledger:
        chunks = add_document(ledger)
        add_drafts(ledger, chunks[0], count=2)
        audit = build_audit(
            ledger, [], fast_decision_ms=2000, target_mix={}, glossary_names=[], parallel=False
        )
    assert "drafts_by_origin" not in json.loads(audit.to_json())
    assert "Drafts by origin" not in render_markdown(audit)
