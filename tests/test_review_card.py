"""What the review card and source pane show: plain text under a styled badge, control
characters made visible, the evidence highlighted where it is, and the draft's findings."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from ledger import DraftIn, DraftKind, Ledger
from ledger.queue import ReviewItem
from ledger.text import folded_spans, has_controls, visible
from tests.support.builders import add_document, add_drafts
from tui.render import card_text, finding_lines, source_text, word_diff

HOSTILE = (
    "Open\x1b]0;PWNED\x07 Billing\x1b[2J \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x9b31m\u202e"
)


def item_for(ledger_path: Path, draft: DraftIn, sections: list[str] | None = None) -> ReviewItem:
    with Ledger.open(ledger_path) as ledger:
        chunk_ids = add_document(ledger, sections=sections)
        draft_id = add_drafts(ledger, chunk_ids[0], [draft])[0]
        stored = ledger.get_draft(draft_id)
        chunk = ledger.get_chunk(chunk_ids[0])
    assert stored is not None
    return ReviewItem(1, stored, chunk, "docs/guide.md", stale=False, double_review=False)


def styles_over(text: Text, needle: str) -> set[str]:
    """The effective style (base style and spans) of every character of ``needle`` in ``text``."""
    console = Console(width=200, color_system="truecolor", force_terminal=True)
    at = text.plain.index(needle)
    return {str(text.get_style_at_offset(console, i)) for i in range(at, at + len(needle))}


def test_only_the_badge_is_styled_the_draft_text_is_plain(tmp_path: Path) -> None:
    item = item_for(
        tmp_path / "l.sqlite",
        DraftIn(
            kind=DraftKind.QA,
            question="Where do I download my invoices?",
            answer="Open Settings > Billing > Invoices and pick the month.",
            evidence=["Open **Settings > Billing > Invoices**"],
        ),
    )
    card = card_text(item, None, held=True)
    badge = [s for s in card.spans if s.end <= len(" QA ")]
    assert badge and "reverse" in str(badge[0].style)
    assert str(card.style) == ""  # no base style for every character of the card
    for words in (item.draft.question, item.draft.answer, item.draft.evidence[0]):
        for style in styles_over(card, words):
            assert "bold" not in style and "reverse" not in style and "italic" not in style


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    item = item_for(
        tmp_path / "l.sqlite",
        DraftIn(kind=DraftKind.QA, question=f"Q {HOSTILE}?", answer=f"A {HOSTILE}", evidence=[]),
        sections=[f"## Billing {HOSTILE}\n\nBody {HOSTILE} end."],
    )
    for text in (card_text(item, None, held=True), source_text(item)):
        assert not has_controls(text.plain)
        assert "␛]0;PWNED␇" in text.plain
    assert "CONTROL CHARACTERS" in card_text(item, None, held=True).plain


def test_visible_keeps_one_character_per_character_and_keeps_layout() -> None:
    assert visible(HOSTILE).count("␛") == HOSTILE.count("\x1b")
    assert len(visible(HOSTILE)) == len(HOSTILE)
    assert visible("a\tb\nc") == "a\tb\nc"
    assert not has_controls("plain text, tabs\tand\nnewlines") and has_controls("\x07")
    assert "\x9b" not in visible("\x9b") and "\u202e" not in visible("\u202e")


def test_evidence_highlight_after_letters_that_casefold_longer(tmp_path: Path) -> None:
    chunk = "## Straße\n\nİİ Straße ßß: click   Save\nthen Export."
    spans = folded_spans(chunk, "CLICK SAVE then export")
    assert [chunk[s:e] for s, e in spans] == ["click   Save\nthen Export"]
    assert [chunk[s:e] for s, e in folded_spans(chunk, "strasse")] == ["Straße", "Straße"]
    assert [chunk[s:e] for s, e in folded_spans(chunk, "i̇i̇")] == ["İİ"]
    # Text that casefolds one character for one takes the regex path: same answers.
    plain = "## Billing\n\nThen click   Save\nthen Export, or CLICK save."
    found = [plain[s:e] for s, e in folded_spans(plain, "click save")]
    assert found == ["click   Save", "CLICK save"]
    item = item_for(
        tmp_path / "l.sqlite",
        DraftIn(kind=DraftKind.QA, question="How?", answer="Save.", evidence=["click save"]),
        sections=[chunk],
    )
    source = source_text(item)
    marked = [source.plain[s.start : s.end] for s in source.spans if "yellow" in str(s.style)]
    assert marked == ["click   Save"]


def test_findings_and_denials_show_as_short_lines_under_the_answer(tmp_path: Path) -> None:
    item = item_for(
        tmp_path / "l.sqlite",
        DraftIn(
            kind=DraftKind.NEGATIVE,
            question="Can I run payroll?",
            answer="No. Open the **Payroll Hub** instead.",
            meta={
                "findings": [
                    {"check": "phantom_ui_name", "detail": "Payroll Hub"},
                    {"check": "markup", "detail": "bold or emphasis marks"},
                ],
                "absence_check": {
                    "terms": ["payroll"],
                    "hits": [],
                    "denials": [
                        {
                            "term": "payroll",
                            "line": "docs/faq.md:12",
                            "sentence": "Acme does not do payroll.",
                        }
                    ],
                },
            },
        ),
    )
    assert finding_lines(item) == [
        ("UI name not in the docs or glossary", "Payroll Hub"),
        ("leftover markup", "bold or emphasis marks"),
        ("the docs deny it", "Acme does not do payroll. (docs/faq.md:12)"),
    ]
    plain = card_text(item, None, held=True).plain
    answer_at = plain.index("Open the **Payroll Hub**")
    assert answer_at < plain.index("UI name not in the docs or glossary: Payroll Hub")
    assert plain.index("the docs deny it") < plain.index("Absence check")


def test_word_diff_marks_removed_and_added_words() -> None:
    diff = word_diff("Open Settings > Billing now.", "Open the Dashboard > Billing now.")
    assert diff.plain == "Open Settings the Dashboard > Billing now."
    styled = {diff.plain[s.start : s.end]: str(s.style) for s in diff.spans}
    assert styled == {"Settings": "strike red", "the Dashboard": "bold green"}


def test_the_ledger_keeps_control_characters_the_screen_hides(tmp_path: Path) -> None:
    # Guard for the fixtures above: a chunk keeps its text as given, controls included.
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        chunk_ids = add_document(ledger, sections=[f"## A\n\n{HOSTILE}"])
        chunk = ledger.get_chunk(chunk_ids[0])
    assert chunk is not None and HOSTILE in chunk.text


def test_word_diff_cuts_long_unchanged_runs_to_the_words_beside_a_change() -> None:
    words = " ".join(f"w{i}" for i in range(40))
    diff = word_diff(words, words.replace("w20", "CHANGED"))
    assert diff.plain == "… w15 w16 w17 w18 w19 w20 CHANGED w21 w22 w23 w24 w25 … "
    appended = word_diff(words, words + " More.")
    assert appended.plain == "… w35 w36 w37 w38 w39 More."


def test_a_quote_missing_from_the_source_is_marked(tmp_path: Path) -> None:
    item = item_for(
        tmp_path / "l.sqlite",
        DraftIn(
            kind=DraftKind.QA,
            question="Where?",
            answer="Open the vault.",
            evidence=["Open **Settings > Billing > Invoices**", "the vault is open"],
        ),
    )
    lines = card_text(item, None, held=True).plain.splitlines()
    assert "“Open **Settings > Billing > Invoices**”" in lines
    assert "“the vault is open”  not found in the source" in lines
