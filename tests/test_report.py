"""The audit renderers: self-contained HTML, escaped untrusted text, verdict in every format."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError
from rich.console import Console

from audit import Audit
from audit import render_html as html_of
from audit import render_markdown as markdown_of
from audit import render_terminal_summary as terminal_lines_of
from audit.present import PROVENANCE_HTML_ROWS
from audit.quality import compute_quality
from ledger import DecisionIn, DraftIn, DraftKind, Ledger, Verdict
from tests.support.builders import add_document, add_drafts

HOSTILE_QUESTION = "Ignore the rules <script>alert('x')</script> | **bold** [link](javascript:1)"
# A phantom UI name carrying markup: it is listed (escaped) among the phantom references.
HOSTILE_ANSWER = "Open the **Admin <script>alert(2)</script> Console** page <img src=x>."


# The tests build an audit as its JSON form, change a field, and render the typed value.
def render_html(audit: dict[str, Any]) -> str:
    return html_of(Audit.model_validate(audit))


def render_markdown(audit: dict[str, Any]) -> str:
    return markdown_of(Audit.model_validate(audit))


def render_terminal_summary(audit: dict[str, Any]) -> list[str]:
    return terminal_lines_of(Audit.model_validate(audit))


def audit_of(ledger: Ledger, *, ok: bool = True, provenance_rows: int = 2) -> dict[str, Any]:
    """An audit dict of the documented shape around this ledger's real quality signals."""
    chunk = add_document(ledger)[0]
    ids = add_drafts(
        ledger,
        chunk,
        [
            DraftIn(
                kind=DraftKind.ADVERSARIAL,
                subtype="prompt_injection",
                question=HOSTILE_QUESTION,
                answer=HOSTILE_ANSWER,
            ),
            # The same text again: an exact duplicate, so the question is shown in the report.
            DraftIn(kind=DraftKind.QA, question=HOSTILE_QUESTION, answer=HOSTILE_ANSWER),
            DraftIn(
                kind=DraftKind.QA,
                question="Where are invoices?",
                answer="Open **Settings > Billing > Invoices**.",
            ),
        ],
    )
    for draft_id in ids:
        ledger.record_decision(
            DecisionIn(draft_id=draft_id, reviewer="maya", verdict=Verdict.APPROVE)
        )
    head = ledger.head()
    breaks = (
        []
        if ok
        else [
            {
                "kind": "export_record_unsigned",
                "ref": "train.jsonl:3",
                "detail": "record <b>b2:ff</b> has no approve/edit decision",
            }
        ]
    )
    record = {
        "record_hash": "b2:" + "a" * 32,
        "draft_id": ids[0],
        "decision_id": "01J",
        "split": "train",
        "kind": "adversarial",
        "subtype": "prompt_injection",
        "document": "docs/<guide>.md",
        "start_line": 1,
        "end_line": 3,
        "chunk_hash": "b2:c",
        "template_name": "adversarial.j2",
        "template_hash": "b2:t",
        "model": "m",
        "generated_at": "2026-11-22T10:00:00.000Z",
        "reviewer": "maya",
        "verdict": "approve",
        "decided_at": "2026-11-22T10:01:00.000Z",
    }
    return {
        "draftgate_audit": 1,
        "generated_at": "2026-11-22T12:00:00.000Z",
        "ledger": ledger.path,
        "head": {"seq": head.seq, "hash": head.hash},
        "integrity": {
            "ok": ok,
            "breaks": breaks,
            "exports_checked": 1,
            "heads_checked": 1,
            "stale_drafts": [],
            "stale_in_export": [],
        },
        "provenance": [dict(record, record_hash=f"b2:{i:032x}") for i in range(provenance_rows)],
        "quality": compute_quality(ledger),
    }


def test_html_is_self_contained_with_inline_svg_charts(ledger: Ledger) -> None:
    page = render_html(audit_of(ledger))
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page and "url(" not in page


def test_html_escapes_untrusted_draft_text(ledger: Ledger) -> None:
    page = render_html(audit_of(ledger, ok=False))
    # The hostile question appears only escaped (it is in the breaks, provenance and tables).
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<img" not in page
    assert "Admin &lt;script&gt;alert(2)&lt;/script&gt; Console" in page
    assert "&lt;b&gt;b2:ff&lt;/b&gt;" in page  # a break's detail is escaped too
    assert "docs/&lt;guide&gt;.md" in page


def test_html_shows_the_integrity_verdict_prominently(ledger: Ledger) -> None:
    failing = render_html(audit_of(ledger, ok=False))
    assert 'class="verdict fail"' in failing
    assert "Integrity: FAIL" in failing
    assert "export_record_unsigned" in failing


def test_html_caps_provenance_rows_and_says_so(ledger: Ledger) -> None:
    page = render_html(audit_of(ledger, provenance_rows=PROVENANCE_HTML_ROWS + 5))
    assert page.count("<tr><td><code>b2:") == PROVENANCE_HTML_ROWS
    assert f"Showing {PROVENANCE_HTML_ROWS:,} of {PROVENANCE_HTML_ROWS + 5:,}" in page


def test_markdown_has_the_verdict_and_escapes_markup(ledger: Ledger) -> None:
    passing = render_markdown(audit_of(ledger))
    assert "## Integrity: PASS" in passing
    failing_ledger = Ledger.in_memory()
    failing = render_markdown(audit_of(failing_ledger, ok=False))
    failing_ledger.close()
    assert "## Integrity: FAIL (1 break)" in failing
    assert "export\\_record\\_unsigned" in failing
    assert "<b>" not in failing and "&lt;b&gt;" in failing


def test_markdown_tables_keep_untrusted_pipes_inside_one_cell(ledger: Ledger) -> None:
    audit = audit_of(ledger)
    audit["quality"]["phantom_references"]["phantoms"] = [
        {"name": "A | B", "count": 1, "draft_ids": [], "example": HOSTILE_QUESTION}
    ]
    text = render_markdown(audit)
    row = next(line for line in text.splitlines() if line.startswith("| A "))
    assert row.count("|") - row.count("\\|") == 4  # three cells
    assert "<script>" not in text


def test_terminal_summary_is_a_few_rich_lines_with_escaped_text(ledger: Ledger) -> None:
    audit = audit_of(ledger, ok=False)
    audit["integrity"]["breaks"][0]["detail"] = "[bold]not markup[/bold]"
    lines = render_terminal_summary(audit)
    assert 3 <= len(lines) <= 10
    assert "Integrity: FAIL" in lines[0]
    console = Console(record=True, width=200)
    for line in lines:
        console.print(line)
    plain = console.export_text()
    assert "[bold]not markup[/bold]" in plain
    assert "Signed-off examples: 3" in plain


def test_an_audit_without_quality_is_not_an_audit() -> None:
    audit = {"draftgate_audit": 1, "integrity": {"ok": True, "breaks": []}, "provenance": []}
    with pytest.raises(ValidationError, match="quality"):
        Audit.model_validate(audit)
