"""The audit as Markdown: integrity verdict first, then the quality signals' key tables.

Everything from drafts, documents or reviewers is untrusted text: it is escaped so it cannot
become markup or raw HTML, and stays inside one table cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from audit.model import Audit
from audit.present import (
    GROUP_HEADERS,
    LIST_ROWS_MARKDOWN,
    break_record,
    checked,
    exports_label,
    group_rows,
    headline,
    num,
    pct,
    short_hash,
    short_question,
    stale_record,
)
from audit.training_runs import gap, loss, sparkline
from ledger.dropped import PER_CHUNK_FULL
from ledger.text import visible

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "\n": " ",
        "\r": " ",
    }
)


def md_text(value: object) -> str:
    """Untrusted text as inert Markdown: no markup, no raw HTML, one table cell, and no
    control character a terminal showing the file would act on (ESC, bidi overrides)."""
    return visible("" if value is None else str(value)).translate(_MD_SPECIAL)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_text(cell) for cell in row) + " |" for row in rows]
    return lines


def _capped_note(total: int, shown: int, where: str = "the JSON report") -> list[str]:
    return ["", f"_{shown} of {total} shown; {where} has them all._"] if total > shown else []


def render_markdown(audit: Audit) -> str:
    integrity = audit.integrity
    quality = audit.quality
    out = [
        "# Draftgate audit",
        "",
        f"Ledger {md_text(audit.ledger)} · head #{audit.head.seq}"
        f" {md_text(audit.head.hash)} · generated {md_text(audit.generated_at)}",
        "",
    ]
    breaks = integrity.breaks
    if integrity.ok:
        out.append("## Integrity: PASS")
        out += ["", f"The decision chain is intact; {checked(integrity)}."]
    else:
        out.append(f"## Integrity: FAIL ({len(breaks)} break{'' if len(breaks) == 1 else 's'})")
        out.append("")
        out += md_table(
            ["Kind", "Where", "Question", "Record kind", "Exports", "Detail"],
            ([b.kind, b.ref, *break_record(integrity, b), b.detail] for b in breaks),
        )
    stale, stale_exported = integrity.stale_drafts, integrity.stale_in_export
    out += [
        "",
        f"Stale drafts (source changed since generation): {len(stale)};"
        f" stale records in the export: {len(stale_exported)}.",
    ]
    if stale_exported:
        out.append("")
        out += md_table(
            ["Stale record", "Question", "Kind", "Exports"],
            (stale_record(integrity, d) for d in stale_exported[:LIST_ROWS_MARKDOWN]),
        )
        out += _capped_note(len(stale_exported), min(len(stale_exported), LIST_ROWS_MARKDOWN))
    ungrounded, ungrounded_exported = integrity.ungrounded_drafts, integrity.ungrounded_in_export
    if ungrounded:
        out += [
            "",
            f"Ungrounded imported drafts (no doc passage supports them): {len(ungrounded)};"
            f" ungrounded records in the export: {len(ungrounded_exported)}.",
        ]
    if ungrounded_exported:
        out.append("")
        out += md_table(
            ["Ungrounded record", "Question", "Kind", "Exports"],
            (stale_record(integrity, d) for d in ungrounded_exported[:LIST_ROWS_MARKDOWN]),
        )
        out += _capped_note(
            len(ungrounded_exported), min(len(ungrounded_exported), LIST_ROWS_MARKDOWN)
        )
    out += ["", "## Summary", ""]
    out += md_table(["Signal", "Value"], headline(audit))

    edit_rate = quality.edit_rate
    for groups, title in (
        (edit_rate.by_kind, "kind"),
        (edit_rate.by_reviewer, "reviewer"),
        (edit_rate.by_model, "model"),
    ):
        if groups:
            out += ["", f"### Edit rate by {title}", ""]
            out += md_table([title.capitalize(), *GROUP_HEADERS[1:]], group_rows(groups))

    if quality.reject_reasons:
        out += ["", "### Reject reasons", ""]
        out += md_table(["Reason", "Count"], quality.reject_reasons.items())

    fast = quality.fast_decisions
    if fast.by_reviewer:
        out += ["", f"### Decisions faster than {fast.threshold_ms} ms", ""]
        out += md_table(
            ["Reviewer", "Decisions", "Timed", "Fast", "Share", "Median dwell (ms)"],
            (
                [r, t.decisions, t.measured, t.fast, pct(t.share), t.median_dwell_ms]
                for r, t in fast.by_reviewer.items()
            ),
        )

    kinds = quality.balance.kinds
    if kinds:
        out += ["", "### Balance of kinds (signed-off examples)", ""]
        out += md_table(
            ["Kind", "Count", "Share", "Target", "Deviation"],
            (
                [k, v.count, pct(v.share), pct(v.target), f"{v.deviation * 100:+.1f} pts"]
                for k, v in kinds.items()
            ),
        )

    coverage = quality.coverage
    uncovered = coverage.uncovered_chunks
    out += [
        "",
        "### Coverage",
        "",
        f"{coverage.chunks_covered} of {coverage.chunks_total} current"
        f" chunks and {coverage.documents_covered} of"
        f" {coverage.documents_total} documents have a signed-off example.",
    ]
    if uncovered:
        out.append("")
        out += md_table(
            ["Document", "Section", "Lines"],
            (
                [c.path, c.heading, f"{c.start_line}–{c.end_line}"]
                for c in uncovered[:LIST_ROWS_MARKDOWN]
            ),
        )
        out += _capped_note(len(uncovered), min(len(uncovered), LIST_ROWS_MARKDOWN))

    contradictions = quality.contradictions.pairs
    if contradictions:
        out += ["", "### Contradictions", ""]
        out += md_table(
            ["Question A", "Answer A", "Question B", "Answer B"],
            (
                [p.question_a, p.answer_a, p.question_b, p.answer_b]
                for p in contradictions[:LIST_ROWS_MARKDOWN]
            ),
        )
    phantoms = quality.phantom_references.phantoms
    if phantoms:
        out += ["", "### Phantom UI references", ""]
        out += md_table(
            ["Name", "Examples naming it", "First seen in"],
            ([p.name, p.count, p.example] for p in phantoms[:LIST_ROWS_MARKDOWN]),
        )
    agreement = quality.agreement
    if agreement.pairs:
        out += [
            "",
            "### Reviewer agreement",
            "",
            f"Cohen's κ over {agreement.pairs} double-reviewed drafts: sign-off vs reject"
            f" {num(agreement.two_way.kappa)}, approve/edit/reject"
            f" {num(agreement.three_way.kappa)}.",
        ]
    out += _origin_section(audit)
    out += _dropped_section(audit)
    out += _ai_addressed_section(audit)
    out += _training_runs_section(audit)
    out += [
        "",
        "## Provenance",
        "",
        f"{len(audit.provenance)} exported records; the JSON report"
        " lists each with its document lines, chunk, template, model, reviewer and verdict.",
    ]
    if audit.provenance:
        shown = audit.provenance[:LIST_ROWS_MARKDOWN]
        out.append("")
        out += md_table(
            ["Record", "Question", "Kind", "Exports", "Source", "Reviewer", "Verdict"],
            (
                [
                    short_hash(r["record_hash"]),
                    short_question(r["question"]),
                    r["kind"],
                    exports_label(r["exports"]),
                    f"{r['document']}:{r['start_line']}–{r['end_line']}",
                    r["reviewer"],
                    r["verdict"],
                ]
                for r in shown
            ),
        )
        out += _capped_note(len(audit.provenance), len(shown))
    return "\n".join(out) + "\n"


def _origin_section(audit: Audit) -> list[str]:
    if not audit.drafts_by_origin:
        return []
    statuses = ["pending", "approved", "edited", "rejected"]
    out = ["", "## Drafts by origin", ""]
    return out + md_table(
        ["Origin", *statuses, "Total"],
        (
            [origin, *(counts.get(s, 0) for s in statuses), sum(counts.values())]
            for origin, counts in sorted(audit.drafts_by_origin.items())
        ),
    )


def _dropped_section(audit: Audit) -> list[str]:
    dropped = audit.dropped_candidates
    out = ["", "## Dropped candidates", ""]
    if not dropped.count:
        return [*out, "None: the current generation calls dropped no candidate."]
    judged = [d for d in dropped.candidates if d.reason != PER_CHUNK_FULL]
    out += [
        f"{dropped.count} candidates dropped by the current generation calls"
        f" ({dropped.count - len(judged)} of them for want of room on their chunk).",
        "",
    ]
    out += md_table(
        ["Kind", "Reason", "Count"],
        (
            [kind, reason, n]
            for kind, reasons in dropped.by_kind_and_reason.items()
            for reason, n in reasons.items()
        ),
    )
    if judged:
        out += ["", "### Dropped on their merits", ""]
        out += md_table(
            ["Kind", "Feature or name", "Reason", "Where", "Matching text"],
            ([d.kind, d.name, d.reason, d.at, d.text] for d in judged[:LIST_ROWS_MARKDOWN]),
        )
        out += _capped_note(len(judged), min(len(judged), LIST_ROWS_MARKDOWN))
    return out


def _ai_addressed_section(audit: Audit) -> list[str]:
    flagged = audit.ai_addressed_text
    out = ["", "## Doc text addressed to an AI assistant", ""]
    if not flagged.count:
        return [*out, "None found in the current docs."]
    out += [
        f"{flagged.count} sentences in the docs speak to an AI rather than about the product;"
        " drafts must not repeat them.",
        "",
    ]
    out += md_table(
        ["Where", "Sentence"],
        ([f.at, f.sentence] for f in flagged.sentences[:LIST_ROWS_MARKDOWN]),
    )
    out += _capped_note(flagged.count, min(flagged.count, LIST_ROWS_MARKDOWN))
    return out


def _training_runs_section(audit: Audit) -> list[str]:
    runs = audit.training_runs
    out = ["", "## Training runs", ""]
    if not runs.count:
        return [*out, "None recorded (`draftgate runs add EXPORT_ID FILE`)."]
    out += [
        f"{runs.count} training runs recorded beside their exports. Gap = the last eval loss"
        " minus the last train loss logged at or before its step.",
        "",
    ]
    out += md_table(
        [
            "Export",
            "File",
            "Points",
            "Final train",
            "Final eval",
            "Gap",
            "Lowest eval (step)",
            "Train curve",
            "Eval curve",
        ],
        (
            [
                export.export_id + (f" ({export.format})" if export.format else ""),
                run.file_name,
                len(run.points),
                loss(run.final_train_loss),
                loss(run.final_eval_loss),
                gap(run.final_gap),
                f"{loss(run.best_eval_loss)} ({run.best_eval_step})"
                if run.best_eval_step is not None
                else "—",
                sparkline([p.train_loss for p in run.points]),
                sparkline([p.eval_loss for p in run.points]),
            ]
            for export in runs.exports
            for run in export.runs
        ),
    )
    return out
