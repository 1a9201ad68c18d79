"""Every key path of the review app, asserting the rows it leaves in the ledger."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Footer
from textual.widgets._toast import Toast

from ledger import Ledger, RejectReason, Verdict
from review.edit_checks import WARNED_PREFIX
from tests.support.review import make_app, seed_ledger, settle, wait_for_screen, wait_until
from tui.modals import EditScreen, FilterScreen, HelpScreen, RejectScreen


def decisions(path: Path) -> list:
    with Ledger.open(path) as ledger:
        return list(ledger.iter_decisions())


async def test_approve_records_a_signed_decision(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[0]
        await pilot.press("a")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[1]
        assert app.session.counts.approved == 1
    rows = decisions(ledger_path)
    assert [(d.draft_id, d.verdict, d.reviewer) for d in rows] == [(ids[0], Verdict.APPROVE, "ann")]
    assert rows[0].shown_at is not None and rows[0].dwell_ms is not None
    assert rows[0].edit_distance == 0.0


async def test_edit_stores_final_text_and_leaves_the_draft_untouched(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    with Ledger.open(ledger_path) as ledger:
        original = ledger.get_draft(ids[0])
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for_screen(pilot, app, EditScreen)
        # The answer has the focus; ctrl+a selects all of it and typing replaces it.
        await pilot.press("ctrl+a", *"Open Billing.")
        await pilot.press("ctrl+s")  # the draft's answer quoted its evidence: asked once
        editor = app.screen
        assert isinstance(editor, EditScreen)
        assert "no longer quotes the evidence" in str(editor.query_one("#edit-error").render())
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.session.counts.edited == 1
        assert app.session.counts.edit_rate() == "100%"
    rows = decisions(ledger_path)
    assert len(rows) == 1 and rows[0].verdict is Verdict.EDIT
    assert rows[0].final_question == original.question
    assert rows[0].final_answer == "Open Billing."
    assert rows[0].note is not None and rows[0].note.startswith(WARNED_PREFIX)
    assert "no longer quotes the evidence" in rows[0].note
    assert rows[0].edit_distance is not None and rows[0].edit_distance > 0
    with Ledger.open(ledger_path) as ledger:
        assert ledger.get_draft(ids[0]) == original


async def test_edit_cancelled_with_escape_records_nothing(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for_screen(pilot, app, EditScreen)
        await pilot.press("x", "escape")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[0]
    assert decisions(ledger_path) == []


async def test_typing_in_the_editor_never_triggers_bindings(ledger_path: Path) -> None:
    seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for_screen(pilot, app, EditScreen)
        await pilot.press(*"a r s q u e n p f ?")
        await settle(pilot, app, on=EditScreen)
        assert app.is_running
        assert isinstance(app.screen, EditScreen)
        assert decisions(ledger_path) == []
        await pilot.press("escape")
        await settle(pilot, app)
    assert decisions(ledger_path) == []


async def test_reject_with_reason_and_note(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await wait_for_screen(pilot, app, RejectScreen)
        await pilot.press("3")  # invented feature or UI; focus moves to the note
        await pilot.press(*"no such page")
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.session.counts.rejected == 1
    rows = decisions(ledger_path)
    assert [(d.draft_id, d.verdict, d.reason, d.note) for d in rows] == [
        (ids[0], Verdict.REJECT, RejectReason.INVENTED_FEATURE_OR_UI, "no such page")
    ]


async def test_reject_needs_a_reason(ledger_path: Path) -> None:
    seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await wait_for_screen(pilot, app, RejectScreen)
        await pilot.press("ctrl+s")
        await settle(pilot, app, on=RejectScreen)  # no reason picked: the dialog stays
        assert decisions(ledger_path) == []
        await pilot.press("down", "enter", "enter")  # pick "not grounded", empty note
        await settle(pilot, app)
    rows = decisions(ledger_path)
    assert [(d.reason, d.note) for d in rows] == [(RejectReason.NOT_GROUNDED, None)]


async def test_skip_moves_on_without_a_decision(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[1]
        await pilot.press("a")
        await settle(pilot, app)
    assert [(d.draft_id, d.verdict) for d in decisions(ledger_path)] == [(ids[1], Verdict.APPROVE)]


async def test_next_and_previous_walk_the_drafts_seen(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[0]
        await pilot.press("a")  # already decided: read-only, no second decision
        await settle(pilot, app)
        await pilot.press("n")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[1]
        await pilot.press("n")  # at the frontier, next moves on like skip
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[2]
        await pilot.press("p", "r", "1", "enter")  # back to the skipped draft: decide it
        await settle(pilot, app)
    rows = decisions(ledger_path)
    assert [(d.draft_id, d.verdict) for d in rows] == [
        (ids[0], Verdict.APPROVE),
        (ids[1], Verdict.REJECT),
    ]


async def test_undo_records_a_revert_and_the_draft_comes_back(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[1]
        await pilot.press("u")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[0]
        assert app.session.counts.approved == 0
        await pilot.press("r")
        await wait_for_screen(pilot, app, RejectScreen)
        await pilot.press("2", "enter")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == ids[1]
    rows = decisions(ledger_path)
    assert [(d.draft_id, d.verdict) for d in rows] == [
        (ids[0], Verdict.APPROVE),
        (ids[0], Verdict.REVERT),
        (ids[0], Verdict.REJECT),
    ]
    assert rows[1].reverts_decision_id == rows[0].id
    with Ledger.open(ledger_path) as ledger:
        assert ledger.draft_status(ids[0]).value == "rejected"


async def test_quit_and_reopen_resumes_at_the_first_undecided(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("a", "a")
        await settle(pilot, app)
        await pilot.press("q")
        await settle(pilot, app)
    assert app.return_code == 0 and not app.is_running
    again = make_app(ledger_path)
    async with again.run_test() as pilot:
        await settle(pilot, again)
        assert again.session.current.item.draft.id == ids[2]


async def test_filter_by_kind(ledger_path: Path) -> None:
    from ledger import DraftKind
    from tests.support.builders import add_document, add_drafts

    with Ledger.open(ledger_path) as ledger:
        chunk_ids = add_document(ledger)
        add_drafts(ledger, chunk_ids[0], count=2)
        negatives = add_drafts(ledger, chunk_ids[1], count=2, kind=DraftKind.NEGATIVE)
    app = make_app(ledger_path)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("f")
        filter_screen = await wait_for_screen(pilot, app, FilterScreen)
        filter_screen.query_one("#kind").value = "negative"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == negatives[0]
        assert app.session.remaining == 2
        await pilot.press("a")
        await settle(pilot, app)
        assert app.session.current.item.draft.id == negatives[1]


async def test_help_shows_keys_and_guidelines(ledger_path: Path) -> None:
    seed_ledger(ledger_path)
    app = make_app(ledger_path, guidelines="# Our rules\n\nBe kind.")
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        help_screen = await wait_for_screen(pilot, app, HelpScreen)
        text = help_screen.text
        assert "Our rules" in text and "approve the draft" in text
        assert len(app.help_open_ms) == 1  # the opening was timed, for bench/review.py
        await pilot.press("a")  # help is open: no decision
        await pilot.press("escape")
        await settle(pilot, app)
    assert decisions(ledger_path) == []


async def test_keymap_remaps_a_binding(ledger_path: Path) -> None:
    ids = seed_ledger(ledger_path)
    app = make_app(ledger_path, keymap={"approve": "y"})
    async with app.run_test() as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        assert decisions(ledger_path) == []
        await pilot.press("y")
        await settle(pilot, app)
    assert [d.draft_id for d in decisions(ledger_path)] == [ids[0]]


async def test_help_scrolls_with_page_keys_home_and_end(ledger_path: Path) -> None:
    seed_ledger(ledger_path)
    rules = "\n\n".join(f"{i}. Rule number {i} of the house style." for i in range(1, 121))
    app = make_app(ledger_path, guidelines="# Our rules\n\n" + rules)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        help_screen = await wait_for_screen(pilot, app, HelpScreen)
        scroller = help_screen.query_one("#help-scroll", VerticalScroll)
        await wait_until(pilot, lambda: scroller.max_scroll_y > 0, "the help laid out")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: scroller.scroll_y > 0, "PageDown scrolling")
        first_page = scroller.scroll_y
        await pilot.press("end")
        await wait_until(
            pilot, lambda: scroller.scroll_y == scroller.max_scroll_y, "End reaching the bottom"
        )
        assert scroller.max_scroll_y > first_page
        await pilot.press("pageup")
        await wait_until(
            pilot, lambda: scroller.scroll_y < scroller.max_scroll_y, "PageUp scrolling back"
        )
        await pilot.press("home")
        await wait_until(pilot, lambda: scroller.scroll_y == 0, "Home reaching the top")


async def test_toasts_stay_off_the_status_bar_at_80x24(ledger_path: Path) -> None:
    seed_ledger(ledger_path)
    app = make_app(ledger_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        for n in range(3):
            app.notify(f"notice {n}: " + "a long line of text that wraps " * 3, timeout=30)
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 3, "the toasts shown")
        await pilot.pause()
        status = app.screen.query_one("#status").region
        footer = app.screen.query_one(Footer).region
        for toast in app.screen.query(Toast):
            assert toast.region.height > 0
            assert not toast.region.overlaps(status), (toast.region, status)
            assert not toast.region.overlaps(footer), (toast.region, footer)
