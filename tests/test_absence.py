"""Absence checks tell a doc sentence that denies a feature from one that mentions it."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.absence import check_absence, mentions_of
from generator.ingest import ingest_folder
from ledger import Chunk, Ledger


def chunk_of(text: str, start_line: int = 10) -> Chunk:
    return Chunk(
        id="c",
        document_id="d",
        ordinal=0,
        heading_path=[],
        start_line=start_line,
        end_line=start_line + text.count("\n"),
        text=text,
        text_hash="h",
    )


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            "# About\n\nAcme does not do accounting, payroll, or tax filing. It tracks kegs.",
            "Acme does not do accounting, payroll, or tax filing.",
        ),
        ("There is no payroll module.", "There is no payroll module."),
        ("Acme doesn't run payroll. Export hours instead.", "Acme doesn't run payroll."),
        (
            "Payroll processing isn't available in Acme.",
            "Payroll processing isn't available in Acme.",
        ),
        ("## What Acme does not do\n\n- Accounting\n- Payroll\n", "- Payroll"),
    ],
)
def test_a_denial_is_told_apart(text: str, sentence: str) -> None:
    (mention,) = mentions_of("payroll", chunk_of(text))
    assert mention.denial and mention.sentence == sentence


@pytest.mark.parametrize(
    "text",
    [
        "If you do not see the payroll tab, reload the page.",
        "Acme does not charge extra but includes payroll export.",
        "## Payroll\n\nExport hours to your payroll provider.",
        "Payroll exports are available on Pro; they are not included in Free.",
    ],
)
def test_an_affirmative_mention_is_not_a_denial(text: str) -> None:
    mentions = mentions_of("payroll", chunk_of(text))
    assert mentions and not any(m.denial for m in mentions)


def test_mention_lines_count_from_the_chunk_s_first_line() -> None:
    (mention,) = mentions_of("payroll", chunk_of("# About\n\nThere is no payroll.", 7))
    assert mention.line == 9


def test_check_absence_keeps_a_feature_the_docs_only_deny(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "about.md").write_text(
        "# About Acme\n\nAcme tracks kegs for small breweries, batch by batch, from the\n"
        "brew house to the taproom.\n\nAcme does not do accounting or payroll.\n"
    )
    (docs / "export.md").write_text(
        "# Exports\n\nExport keg counts as CSV from the Cellar page. The export includes\n"
        "every keg, its batch and its location, one line per keg.\n"
    )
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest_folder(ledger, docs)
        denied = check_absence(ledger, ["payroll", "accounting"])
        mentioned = check_absence(ledger, ["payroll", "CSV"])
        unknown = check_absence(ledger, ["tip pooling"])
    assert not denied.absent and denied.supports_negative and denied.hits == []
    assert [d["line"] for d in denied.denials] == ["about.md:6", "about.md:6"]
    assert denied.denials[0]["sentence"] == "Acme does not do accounting or payroll."
    assert denied.as_meta()["denied"] is True
    assert not mentioned.supports_negative
    assert [h["term"] for h in mentioned.hits] == ["CSV"]
    assert mentioned.hits[0]["line"] == "export.md:3"
    assert unknown.absent and unknown.supports_negative and unknown.as_meta()["denied"] is False
