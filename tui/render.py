"""Pure functions from a claimed draft to the Rich text the screen shows (no I/O, no SQL)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ledger import Decision, Verdict
from ledger.queue import ReviewItem

VERDICT_WORDS = {
    Verdict.APPROVE: "approved",
    Verdict.EDIT: "edited",
    Verdict.REJECT: "rejected",
}


def badge(item: ReviewItem) -> Text:
    label = item.draft.kind.value.upper()
    if item.draft.subtype:
        label += f" · {item.draft.subtype}"
    text = Text(f" {label} ", style="bold reverse")
    if item.stale:
        text.append("  ")
        text.append(" STALE: source changed ", style="bold black on yellow")
    if item.double_review:
        text.append("  ")
        text.append(" second review (blind) ", style="bold black on cyan")
    return text


def card_text(item: ReviewItem, decision: Decision | None, held: bool) -> Text:
    draft = item.draft
    text = badge(item)
    text.append("\n\n")
    if decision is not None:
        word = VERDICT_WORDS.get(decision.verdict, decision.verdict.value)
        text.append(f"✓ {word} and saved", style="bold green")
        if decision.reason:
            text.append(f" ({decision.reason.value.replace('_', ' ')})", style="green")
        text.append("  (u undoes your last decision)\n\n", style="dim")
    elif not held:
        text.append(
            "Another reviewer holds or has decided this draft; it is read-only here.\n\n",
            style="yellow",
        )
    text.append("Question\n", style="bold underline")
    text.append(draft.question + "\n\n")
    text.append("Answer\n", style="bold underline")
    text.append(draft.answer + "\n")
    if decision is not None and decision.verdict is Verdict.EDIT:
        text.append("\nYour edit\n", style="bold underline")
        text.append(f"Q: {decision.final_question}\nA: {decision.final_answer}\n")
    if draft.evidence:
        text.append("\nEvidence\n", style="bold underline")
        for quote in draft.evidence:
            text.append("“" + quote + "”\n", style="italic")
    text.append_text(meta_text(item))
    return text


def meta_text(item: ReviewItem) -> Text:
    """Kind-specific checks the reviewer should see: absence search, the docs' own denial,
    wrong UI name."""
    meta: dict[str, Any] = item.draft.meta
    text = Text()
    absence = meta.get("absence_check")
    if isinstance(absence, dict):
        terms = absence.get("terms") or []
        hits = absence.get("hits") or []
        text.append("\nAbsence check\n", style="bold underline")
        text.append("searched: " + (", ".join(f"“{t}”" for t in terms) or "(nothing)") + "\n")
        if hits:
            text.append(f"hits: {len(hits)}: the docs DO mention it\n", style="bold red")
            for hit in hits:
                if isinstance(hit, dict):
                    where = f"{hit.get('document', '')} › {hit.get('heading', '')}"
                    text.append(f"  {hit.get('term', '')}: {where}\n", style="red")
        else:
            text.append("hits: none in the docs\n", style="green")
    denials = meta.get("docs_deny")
    if isinstance(denials, list) and denials:
        # The docs' own sentence denying the feature: the strongest support a no can have.
        text.append("\nThe docs say\n", style="bold underline")
        for denial in denials:
            if isinstance(denial, dict):
                text.append(f"“{denial.get('quote', '')}”", style="green")
                text.append(f"  ({denial.get('at', '')})\n", style="dim")
    if item.draft.subtype == "wrong_ui_name":
        wrong = meta.get("wrong_name") or meta.get("wrong_ui_name")
        real = meta.get("real_path") or meta.get("real_ui_path") or meta.get("real_name")
        text.append("\nWrong UI name\n", style="bold underline")
        text.append(f"wrong name: {wrong or '(not recorded)'}\n", style="red")
        text.append(f"real path:  {real or '(not recorded)'}\n", style="green")
    return text


def source_text(item: ReviewItem) -> Text:
    text = Text()
    text.append(item.document_path or "(document unknown)", style="bold")
    chunk = item.chunk
    if chunk is None:
        text.append("\n\nThe source chunk is missing from the ledger.", style="red")
        return text
    text.append("\n")
    text.append(" › ".join(chunk.heading_path) or "(no heading)", style="cyan")
    text.append(f"\nlines {chunk.start_line}–{chunk.end_line}\n\n", style="dim")
    text.append_text(ai_addressed_marks(item))
    body = Text(chunk.text)
    lowered = chunk.text.casefold()
    for quote in item.draft.evidence:
        needle = quote.strip().casefold()
        if not needle:
            continue
        start = lowered.find(needle)
        while start != -1:
            body.stylize("bold black on yellow", start, start + len(needle))
            start = lowered.find(needle, start + len(needle))
    mark_ai_addressed(body, item)
    text.append_text(body)
    return text


AI_ADDRESSED_STYLE = "bold white on red"


def ai_addressed_marks(item: ReviewItem) -> Text:
    """One marked line per sentence of the source that speaks to an AI assistant: doc text
    that is neither a product fact nor an instruction, which no answer should repeat."""
    text = Text()
    for flag in item.ai_addressed:
        text.append(" ⚠ AI-addressed text ", style=AI_ADDRESSED_STYLE)
        text.append(f" line {flag.line}: not a product fact; do not repeat it\n", style="red")
    if item.ai_addressed:
        text.append("\n")
    return text


def mark_ai_addressed(body: Text, item: ReviewItem) -> None:
    """Highlight the flagged sentences in the source text."""
    # Ingest reads curly apostrophes as straight ones; the swap keeps offsets unchanged.
    plain = body.plain.replace("\u2019", "'")
    for flag in item.ai_addressed:
        start = plain.find(flag.sentence)
        if start != -1:
            body.stylize(AI_ADDRESSED_STYLE, start, start + len(flag.sentence))
