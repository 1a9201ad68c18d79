"""Editing beside the source: the editor replaces the card, the source stays in view with its
evidence highlighted, desktop editor keys work, and a risky save asks once and is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Static, TextArea

from ledger import Decision, DraftIn, DraftKind, Ledger, Verdict
from review.edit_checks import WARNED_PREFIX, DocsSearch, broken_quotes, phantom_names
from tests.support.builders import add_document, add_drafts
from tests.support.review import make_app, settle, wait_for_screen
from tui.modals import EditScreen, RejectScreen

ANSWER = "Open Settings > Billing > Invoices to download them."


def one_draft(path: Path) -> str:
    with Ledger.open(path) as ledger:
        chunk_ids = add_document(ledger)
        return add_drafts(
            ledger,
            chunk_ids[0],
            [
                DraftIn(
                    kind=DraftKind.QA,
                    question="Where are my invoices?",
                    answer=ANSWER,
                    evidence=["Settings > Billing > Invoices"],
                )
            ],
        )[0]


def decisions(path: Path) -> list[Decision]:
    with Ledger.open(path) as ledger:
        return list(ledger.iter_decisions())


async def open_editor(pilot: Any, app: Any) -> EditScreen:
    await settle(pilot, app)
    await pilot.press("e")
    return await wait_for_screen(pilot, app, EditScreen)


async def test_editor_sits_beside_the_source_with_the_cursor_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, app)
        source = editor.query_one("#source", Static)
        assert source.region.width > 0 and editor.query_one("#form-pane").region.width > 0
        shown = source.render()
        assert "Settings > Billing > Invoices" in str(shown)
        answer = editor.query_one("#answer", TextArea)
        assert app.focused is answer
        assert answer.cursor_location == answer.document.end
        await pilot.press("x")
        assert answer.text == ANSWER + "x"
        await pilot.press("ctrl+home")
        assert answer.cursor_location == (0, 0)
        await pilot.press("ctrl+end")
        assert answer.cursor_location == answer.document.end
        await pilot.press("ctrl+a")
        assert answer.selected_text == ANSWER + "x"
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert answer.text == ANSWER
        await pilot.press("escape")
        await settle(pilot, app)
    assert decisions(path) == []


async def test_change_shows_as_a_word_diff_while_typing(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, app)
        assert str(editor.query_one("#edit-diff", Static).render()) == "(no change yet)"
        await pilot.press("backspace", *"s now.")
        diff = str(editor.query_one("#edit-diff", Static).render())
        assert "them. thems now." in diff  # the removed word, then the added words
        await pilot.press("escape")
        await settle(pilot, app)


async def test_phantom_ui_name_asks_once_and_records_the_warning(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    app = make_app(path, glossary=["Reports"])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, app)
        await pilot.press(" ", *"Or open the **Dashboard**.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is editor
        warning = str(editor.query_one("#edit-error", Static).render())
        assert "“Dashboard”" in warning and "Save anyway?" in warning
        assert decisions(path) == []
        await pilot.press("ctrl+s")
        await settle(pilot, app)
    [decision] = decisions(path)
    assert decision.verdict is Verdict.EDIT
    assert decision.final_answer == ANSWER + " Or open the **Dashboard**."
    assert (
        decision.note == WARNED_PREFIX + "names “Dashboard”, which the docs and glossary don't have"
    )


async def test_fixing_the_text_after_a_warning_saves_without_a_note(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    app = make_app(path, glossary=["Reports"])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, app)
        await pilot.press(" ", *"See **Dashboard**.", "ctrl+s")
        await pilot.pause()
        assert app.screen is editor
        # Typing after the warning withdraws it; the glossary name is real: saved at once.
        await pilot.press("ctrl+a", *ANSWER, " ", *"See **Reports**.", "ctrl+s")
        await settle(pilot, app)
    [decision] = decisions(path)
    assert decision.final_answer == ANSWER + " See **Reports**."
    assert decision.note is None


async def test_reject_form_sits_beside_the_source(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        dialog = await wait_for_screen(pilot, app, RejectScreen)
        assert "Settings > Billing > Invoices" in str(dialog.query_one("#source", Static).render())
        await pilot.press("escape")
        await settle(pilot, app)


def test_phantom_names_use_the_docs_index_and_the_glossary(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    search = DocsSearch(path)
    try:
        names = phantom_names(
            "Open **Team > Members**, then the **Dashboard** and **Reports**.",
            chunk_text="unrelated",
            question="",
            glossary=["Reports"],
            corpus_search=search,
        )
    finally:
        search.close()
    # "Team > Members" is in another chunk of the docs (full-text search), Reports in the
    # glossary; only Dashboard is in neither.
    assert names == ["Dashboard"]


def test_a_dropped_evidence_quote_is_broken_a_kept_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    draft_id = one_draft(path)
    with Ledger.open(path) as ledger:
        draft = ledger.get_draft(draft_id)
    assert draft is not None
    assert broken_quotes(draft, "Open Billing.") == ["Settings > Billing > Invoices"]
    assert broken_quotes(draft, "Go to settings > billing > invoices, then pick one.") == []


async def test_pasted_control_characters_go_in_visible(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    one_draft(path)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, app)
        answer = editor.query_one("#answer", TextArea)
        answer.insert("\x1b]0;PWNED\x07")
        assert answer.text == ANSWER + "␛]0;PWNED␇"
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("r")
        dialog = await wait_for_screen(pilot, app, RejectScreen)
        note = dialog.query_one("#note", Input)
        note.value = "see \x1b[2J"
        assert note.value == "see ␛[2J"
