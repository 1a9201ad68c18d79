"""Pure functions from a claimed draft to the Rich text the screen shows (no I/O, no SQL).

Every text that comes from the ledger (drafts, source, paths, names, notes) passes through
``shown`` first: control characters become visible, so a doc cannot send escapes to the
terminal. Only labels (the badge, section headings, findings' markers) carry a style; the
draft's own words are plain text, so a label's style can never become the card's base style.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from rich.text import Text

from ledger import Decision, Verdict
from ledger.queue import ReviewItem
from ledger.text import folded_spans, has_controls, visible

VERDICT_WORDS = {
    Verdict.APPROVE: "approved",
    Verdict.EDIT: "edited",
    Verdict.REJECT: "rejected",
}
HEADING = "bold underline"
EVIDENCE_HIGHLIGHT = "black on yellow"
# Generation-time findings as the reviewer reads them; an unknown check shows by its name.
FINDING_WORDS = {
    "phantom_ui_name": "UI name not in the docs or glossary",
    "markup": "leftover markup",
    "prompt_text": "repeats the prompt's wording",
    "addresses_assistant": "speaks to or as an AI",
    "injected_text": "repeats an instruction from the docs",
}
FINDING_DETAIL_CHARS = 100
CONTROLS_MARK = " CONTROL CHARACTERS (shown as ␛ …) "


def shown(value: object) -> str:
    """Text from the ledger as it may reach the terminal."""
    return visible(str(value))


def draft_has_controls(item: ReviewItem) -> bool:
    draft = item.draft
    return any(has_controls(t) for t in (draft.question, draft.answer, *draft.evidence))


def badge(item: ReviewItem) -> Text:
    label = item.draft.kind.value.upper()
    if item.draft.subtype:
        label += f" · {shown(item.draft.subtype)}"
    text = Text()
    text.append(f" {label} ", style="bold reverse")
    if item.stale:
        text.append("  ")
        text.append(" STALE: source changed ", style="bold black on yellow")
    if item.origin != "generate":
        text.append("  ")
        text.append(f" from {shown(item.origin)} ", style="bold black on magenta")
    if item.double_review:
        text.append("  ")
        text.append(" second review (blind) ", style="bold black on cyan")
    if is_ungrounded_import(item.draft.meta):
        text.append("  ")
        text.append(" UNGROUNDED: no doc passage supports it ", style="bold white on red")
    if draft_has_controls(item):
        text.append("  ")
        text.append(CONTROLS_MARK, style="bold white on red")
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
    text.append("Question", style=HEADING)
    text.append("\n" + shown(draft.question) + "\n\n")
    text.append_text(probe_text(item))
    text.append("Signed answer (start from it)" if probe_meta(item) else "Answer", style=HEADING)
    text.append("\n" + shown(draft.answer) + "\n")
    text.append_text(findings_text(item))
    if decision is not None and decision.verdict is Verdict.EDIT:
        text.append("\n")
        text.append("Your edit", style=HEADING)
        text.append(f"\nQ: {shown(decision.final_question)}\nA: {shown(decision.final_answer)}\n")
    if decision is not None and decision.note:
        text.append(f"note: {shown(decision.note)}\n", style="dim")
    if draft.evidence:
        text.append("\n")
        text.append("Evidence", style=HEADING)
        text.append("\n")
        chunk_text = item.chunk.text if item.chunk is not None else None
        for quote in draft.evidence:
            text.append("“" + shown(quote) + "”")
            if chunk_text is not None and not folded_spans(chunk_text, quote):
                text.append("  not found in the source", style="bold red")
            text.append("\n")
    text.append_text(meta_text(item))
    return text


def probe_meta(item: ReviewItem) -> dict[str, Any] | None:
    """A probe draft's record of the failed answer (``meta["probe"]``), if it is one."""
    value = item.draft.meta.get("probe")
    return value if item.origin == "probe" and isinstance(value, dict) else None


def probe_text(item: ReviewItem) -> Text:
    """What the tuned model said and why it failed: the reason a probe draft is in review."""
    meta = probe_meta(item)
    text = Text()
    if meta is None:
        return text
    text.append(f"What {shown(meta.get('model', 'the model'))} answered", style=HEADING)
    if meta.get("asked"):
        text.append("\n(asked: " + shown(meta["asked"]) + ")", style="dim")
    text.append("\n" + shown(meta.get("model_answer") or "(no answer)") + "\n")
    for reason in meta.get("reasons") or []:
        text.append("✗ ", style="bold red")
        text.append(shown(reason) + "\n", style="red")
    judge = meta.get("judge")
    if isinstance(judge, dict) and "passed" in judge:
        verdict = "pass" if judge.get("passed") else "fail"
        text.append(
            f"LLM judge ({shown(judge.get('model', ''))}): {verdict}: "
            f"{shown(judge.get('reason', ''))}\n",
            style="dim",
        )
    text.append("\n")
    return text


def _short(value: object, limit: int = FINDING_DETAIL_CHARS) -> str:
    line = " ".join(shown(value).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def finding_lines(item: ReviewItem) -> list[tuple[str, str]]:
    """(what, detail) per thing the generation-time checks found: answer findings, and the
    docs' denial a negative rests on."""
    meta: dict[str, Any] = item.draft.meta
    lines: list[tuple[str, str]] = []
    findings = meta.get("findings")
    if isinstance(findings, list):
        for finding in findings:
            if isinstance(finding, dict):
                check = str(finding.get("check", ""))
                what = FINDING_WORDS.get(check, check.replace("_", " ") or "finding")
                lines.append((what, _short(finding.get("detail", ""))))
    # The docs' own sentence denying the feature, the strongest support a no can have: the one
    # the draft quotes (``docs_deny``, rules drafter), else those the absence search found.
    quoted = meta.get("docs_deny")
    absence = meta.get("absence_check")
    if isinstance(quoted, list) and quoted:
        denials = [(d.get("quote", ""), d.get("at", "")) for d in quoted if isinstance(d, dict)]
    elif isinstance(absence, dict):
        found = absence.get("denials") or []
        denials = [(d.get("sentence", ""), d.get("line", "")) for d in found if isinstance(d, dict)]
    else:
        denials = []
    for sentence, where in denials:
        lines.append(("the docs deny it", f"{_short(sentence)} ({_short(where)})"))
    return lines


def findings_text(item: ReviewItem) -> Text:
    text = Text()
    for what, detail in finding_lines(item):
        text.append("⚑ ", style="yellow")
        text.append(what, style="yellow")
        text.append(f": {detail}\n" if detail else "\n")
    return text


def meta_text(item: ReviewItem) -> Text:
    """Kind-specific checks the reviewer should see: absence search, wrong UI name."""
    meta: dict[str, Any] = item.draft.meta
    text = Text()
    absence = meta.get("absence_check")
    if isinstance(absence, dict):
        terms = absence.get("terms") or []
        hits = absence.get("hits") or []
        text.append("\n")
        text.append("Absence check", style=HEADING)
        text.append("\nsearched: " + (", ".join(f"“{shown(t)}”" for t in terms) or "(nothing)"))
        text.append("\n")
        if hits:
            text.append(f"hits: {len(hits)}: the docs DO mention it\n", style="bold red")
            for hit in hits:
                if isinstance(hit, dict):
                    where = f"{shown(hit.get('document', ''))} › {shown(hit.get('heading', ''))}"
                    text.append(f"  {shown(hit.get('term', ''))}: {where}\n", style="red")
        else:
            text.append("hits: none in the docs\n", style="green")
    imported = meta.get("import")
    if isinstance(imported, dict):
        text.append_text(import_text(imported))
    if item.draft.subtype == "wrong_ui_name":
        wrong = meta.get("wrong_name") or meta.get("wrong_ui_name")
        real = meta.get("real_path") or meta.get("real_ui_path") or meta.get("real_name")
        text.append("\n")
        text.append("Wrong UI name", style=HEADING)
        text.append("\n")
        text.append(f"wrong name: {shown(wrong or '(not recorded)')}\n", style="red")
        text.append(f"real path:  {shown(real or '(not recorded)')}\n", style="green")
    return text


def is_ungrounded_import(meta: dict[str, Any]) -> bool:
    """An imported draft that no doc passage supports (its source is the imported row)."""
    imported = meta.get("import")
    return isinstance(imported, dict) and imported.get("grounded") is False


def import_text(imported: dict[str, Any]) -> Text:
    """Where an imported draft came from, what production said and how a user rated it."""
    text = Text("\n")
    text.append("Imported", style=HEADING)
    text.append(
        f"\nfrom {shown(imported.get('file', '?'))} line {shown(imported.get('line', '?'))}"
    )
    text.append(f" ({shown(imported.get('file_hash', ''))})\n", style="dim")
    if imported.get("grounded") is False:
        text.append(
            "ungrounded: no passage of the docs holds enough of its words; the source beside "
            "it is the imported row, not the docs\n",
            style="bold red",
        )
    else:
        support = imported.get("support")
        if isinstance(support, dict):
            words = ", ".join(shown(w) for w in support.get("shared_words") or [])
            text.append(f"grounded: the source shares {words}\n", style="green")
    model_answer = imported.get("model_answer")
    if isinstance(model_answer, str):
        text.append("model's answer: ", style="bold")
        text.append(shown(model_answer) + "\n")
    feedback = imported.get("feedback")
    if feedback is not None:
        text.append(f"user feedback: {shown(feedback)}\n", style="yellow")
    return text


def source_text(item: ReviewItem) -> Text:
    text = Text()
    text.append(shown(item.document_path or "(document unknown)"), style="bold")
    chunk = item.chunk
    if chunk is None:
        text.append("\n\nThe source chunk is missing from the ledger.", style="red")
        return text
    text.append("\n")
    text.append(" › ".join(shown(h) for h in chunk.heading_path) or "(no heading)", style="cyan")
    text.append(f"\nlines {chunk.start_line}–{chunk.end_line}\n\n", style="dim")
    text.append_text(ai_addressed_marks(item))
    # ``visible`` keeps one character per character, so spans in the stored text hold here.
    body = Text(shown(chunk.text))
    for quote in item.draft.evidence:
        for start, end in folded_spans(chunk.text, quote):
            body.stylize(EVIDENCE_HIGHLIGHT, start, end)
    mark_ai_addressed(body, item)
    text.append_text(body)
    return text


# ---- the change an edit makes -------------------------------------------------------------

_TOKENS = re.compile(r"\s+|[^\s]+")
# Unchanged words kept on each side of a change; longer unchanged runs are cut to "…", so a
# one-word fix in a long answer shows as one line.
DIFF_CONTEXT_WORDS = 5


def word_diff(before: str, after: str) -> Text:
    """``after`` against ``before`` word by word: removed words struck through in red, added
    words in green, the rest plain."""
    old = _TOKENS.findall(shown(before))
    new = _TOKENS.findall(shown(after))
    text = Text()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            before_change = b2 < len(new) or a2 < len(old)
            after_change = a1 > 0 or b1 > 0
            text.append(_context(old[a1:a2], after_change, before_change))
            continue
        removed, added = "".join(old[a1:a2]), "".join(new[b1:b2])
        if removed:
            text.append(removed, style="strike red")
        if removed and added and not removed[-1].isspace() and not added[0].isspace():
            text.append(" ")  # "Settings the Dashboard", not "Settingsthe Dashboard"
        if added:
            text.append(added, style="bold green")
    return text


def _context(tokens: list[str], after_change: bool, before_change: bool) -> str:
    """An unchanged run with only the words next to the changes around it."""
    keep = 2 * DIFF_CONTEXT_WORDS  # a word and the space after it are two tokens
    head = tokens[:keep] if after_change else []
    tail = tokens[-keep:] if before_change else []
    if len(head) + len(tail) >= len(tokens):
        return "".join(tokens)
    cut = "".join(head).rstrip() + " … " + "".join(tail).lstrip()
    # Keep the run's own edge spaces: they separate it from the changed words.
    if tokens[-1].isspace():
        cut = cut.rstrip() + " "
    return cut.lstrip() if not head else cut


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
