"""The audit as a few lines of Rich console markup, for ``console.print``."""

from __future__ import annotations

from rich.markup import escape as rich_escape

from audit.model import Audit
from audit.present import break_record, headline, pct, stale_record
from audit.training_runs import run_summary

BREAKS_SHOWN = 5


def render_terminal_summary(audit: Audit) -> list[str]:
    """A few lines in Rich console markup (dynamic text escaped)."""
    integrity = audit.integrity
    breaks = integrity.breaks
    lines = []
    if integrity.ok:
        lines.append(
            "[bold green]Integrity: PASS[/] "
            f"(chain to #{audit.head.seq},"
            f" {integrity.exports_checked} exports,"
            f" {integrity.heads_checked} heads checked)"
        )
    else:
        plural = "" if len(breaks) == 1 else "s"
        lines.append(f"[bold red]Integrity: FAIL[/] ({len(breaks)} break{plural})")
        for item in breaks[:BREAKS_SHOWN]:
            line = f"{item.kind}: {item.ref}: {item.detail}"
            question, kind, exports = break_record(integrity, item)
            if question or kind:
                line += f" (“{question}” · {kind} · {exports})"
            elif exports:
                line += f" ({exports})"
            lines.append("  [red]•[/] " + rich_escape(line))
        if len(breaks) > BREAKS_SHOWN:
            lines.append(f"  … and {len(breaks) - BREAKS_SHOWN} more (see the report)")
    stale, stale_exported = integrity.stale_drafts, integrity.stale_in_export
    if stale or stale_exported:
        lines.append(
            f"[yellow]Stale drafts: {len(stale)}, stale in export: {len(stale_exported)}[/]"
        )
        for draft_id in stale_exported[:BREAKS_SHOWN]:
            hash_, question, kind, exports = stale_record(integrity, draft_id)
            lines.append(
                "  [yellow]•[/] " + rich_escape(f"{hash_} “{question}” · {kind} · {exports}")
            )
        if len(stale_exported) > BREAKS_SHOWN:
            lines.append(f"  … and {len(stale_exported) - BREAKS_SHOWN} more (see the report)")
    ungrounded, ungrounded_exported = integrity.ungrounded_drafts, integrity.ungrounded_in_export
    if ungrounded:
        lines.append(
            f"[yellow]Ungrounded imported drafts: {len(ungrounded)}, "
            f"ungrounded in export: {len(ungrounded_exported)}[/]"
        )
        for draft_id in ungrounded_exported[:BREAKS_SHOWN]:
            hash_, question, kind, exports = stale_record(integrity, draft_id)
            lines.append(
                "  [yellow]•[/] " + rich_escape(f"{hash_} “{question}” · {kind} · {exports}")
            )
    figures = dict(headline(audit))
    lines.append(
        " · ".join(
            f"{label}: {rich_escape(figures[label])}"
            for label in ("Exported records", "Signed-off examples", "Edit rate", "Chunk coverage")
        )
    )
    lines.append(
        " · ".join(
            f"{label}: {rich_escape(figures[label])}"
            for label in (
                "Fast decisions",
                "Duplicates",
                "Contradictions",
                "Phantom UI names",
                "Reviewer agreement (κ)",
            )
        )
    )
    dropped, flagged = audit.dropped_candidates, audit.ai_addressed_text
    reasons: dict[str, int] = {}
    for by_reason in dropped.by_kind_and_reason.values():
        for reason, n in by_reason.items():
            reasons[reason] = reasons.get(reason, 0) + n
    lines.append(
        f"Dropped candidates: {dropped.count}"
        + (" (" + rich_escape(", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))) + ")")
        * bool(reasons)
    )
    if audit.drafts_by_origin:
        lines.append(
            "Drafts by origin: "
            + ", ".join(
                f"{rich_escape(origin)} {sum(counts.values())} ({counts.get('pending', 0)} pending)"
                for origin, counts in sorted(audit.drafts_by_origin.items())
            )
        )
    if flagged.count:
        first = flagged.sentences[0]
        lines.append(
            f"[yellow]Doc text addressed to an AI assistant: {flagged.count}[/]"
            f" (first at {rich_escape(first.at)}; see the report)"
        )
    lines += _training_runs_lines(audit)
    kinds = audit.quality.balance.kinds
    if kinds:
        lines.append(
            "Balance: "
            + ", ".join(
                f"{rich_escape(str(kind))} {pct(v.share, 0)} (target {pct(v.target, 0)})"
                for kind, v in kinds.items()
            )
        )
    return lines


def _training_runs_lines(audit: Audit) -> list[str]:
    runs = audit.training_runs
    if not runs.count:
        return []
    lines = [f"Training runs: {runs.count}"]
    for export in runs.exports:
        for run in export.runs:
            label = f"export {export.export_id}" + (f" ({export.format})" if export.format else "")
            lines.append("  • " + rich_escape(f"{label}: {run_summary(run)}"))
    return lines
