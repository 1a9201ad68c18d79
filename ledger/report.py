"""Render the audit dict as Markdown, as one self-contained HTML file, or as terminal lines.

The audit dict (``draftgate_audit: 1``) carries integrity, provenance and the quality signals
of ``ledger.quality.compute_quality``; JSON output is that dict as is. Everything from drafts,
documents or reviewers is untrusted text: HTML output escapes all of it (``html.escape``),
Markdown escapes the characters that would become markup or raw HTML, and terminal lines
escape Rich markup. The HTML needs no network: inline CSS, charts drawn here as inline SVG,
no scripts, no fonts or images fetched.

Renderers read with ``.get`` and defaults, so a partial audit (e.g. integrity only) still
renders.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from rich.markup import escape as rich_escape

PROVENANCE_HTML_ROWS = 1000
LIST_ROWS_HTML = 200
LIST_ROWS_MARKDOWN = 20


# ---- shared helpers -----------------------------------------------------------------------


def _quality(audit: dict[str, Any]) -> dict[str, Any]:
    quality = audit.get("quality")
    return quality if isinstance(quality, dict) else {}


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _short_hash(value: Any, keep: int = 12) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= keep + 3 else text[: keep + 3] + "…"


def _integrity_ok(audit: dict[str, Any]) -> bool:
    return bool(audit.get("integrity", {}).get("ok"))


def _headline(audit: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures a reader wants first, as (label, value) pairs shared by every format."""
    quality = _quality(audit)
    totals = quality.get("totals", {})
    overall = quality.get("edit_rate", {}).get("overall", {})
    coverage = quality.get("coverage", {})
    fast = quality.get("fast_decisions", {})
    agreement = quality.get("agreement", {})
    duplicates = quality.get("duplicates", {})
    return [
        ("Exported records", str(len(audit.get("provenance", [])))),
        ("Signed-off examples", str(totals.get("signed_off_examples", 0))),
        ("Decisions in force", str(totals.get("live_decisions", 0))),
        ("Edit rate", _pct(overall.get("edit_rate"))),
        ("Mean edit distance", _num(overall.get("mean_edit_distance"))),
        (
            "Chunk coverage",
            f"{coverage.get('chunks_covered', 0)}/{coverage.get('chunks_total', 0)}"
            f" ({_pct(coverage.get('chunk_share'))})",
        ),
        ("Fast decisions", f"{fast.get('fast', 0)} ({_pct(fast.get('share'))})"),
        ("Clock anomalies (decided before shown)", str(fast.get("clock_anomalies", 0))),
        (
            "Duplicates",
            f"{duplicates.get('exact_extra_copies', 0)} exact copies,"
            f" {duplicates.get('near_pair_count', 0)} near pairs",
        ),
        ("Contradictions", str(quality.get("contradictions", {}).get("count", 0))),
        ("Phantom UI names", str(quality.get("phantom_references", {}).get("count", 0))),
        (
            "Reviewer agreement (κ)",
            f"{_num(agreement.get('two_way', {}).get('kappa'))}"
            f" over {agreement.get('pairs', 0)} pairs",
        ),
    ]


# ---- terminal -----------------------------------------------------------------------------


def render_terminal_summary(audit: dict[str, Any]) -> list[str]:
    """A few lines in Rich console markup (dynamic text escaped), for ``console.print``."""
    integrity = audit.get("integrity", {})
    breaks = integrity.get("breaks", [])
    lines = []
    if _integrity_ok(audit):
        lines.append(
            "[bold green]Integrity: PASS[/] "
            f"(chain to #{audit.get('head', {}).get('seq', 0)},"
            f" {integrity.get('exports_checked', 0)} exports,"
            f" {integrity.get('heads_checked', 0)} heads checked)"
        )
    else:
        plural = "" if len(breaks) == 1 else "s"
        lines.append(f"[bold red]Integrity: FAIL[/] ({len(breaks)} break{plural})")
        for item in breaks[:5]:
            lines.append(
                "  [red]•[/] "
                + rich_escape(f"{item.get('kind')}: {item.get('ref')}: {item.get('detail')}")
            )
        if len(breaks) > 5:
            lines.append(f"  … and {len(breaks) - 5} more (see the report)")
    stale = integrity.get("stale_drafts", [])
    stale_exported = integrity.get("stale_in_export", [])
    if stale or stale_exported:
        lines.append(
            f"[yellow]Stale drafts: {len(stale)}, stale in export: {len(stale_exported)}[/]"
        )
    headline = dict(_headline(audit))
    lines.append(
        " · ".join(
            f"{label}: {rich_escape(headline[label])}"
            for label in ("Exported records", "Signed-off examples", "Edit rate", "Chunk coverage")
        )
    )
    lines.append(
        " · ".join(
            f"{label}: {rich_escape(headline[label])}"
            for label in (
                "Fast decisions",
                "Duplicates",
                "Contradictions",
                "Phantom UI names",
                "Reviewer agreement (κ)",
            )
        )
    )
    kinds = _quality(audit).get("balance", {}).get("kinds", {})
    if kinds:
        lines.append(
            "Balance: "
            + ", ".join(
                f"{rich_escape(str(kind))} {_pct(v.get('share'), 0)}"
                f" (target {_pct(v.get('target'), 0)})"
                for kind, v in kinds.items()
            )
        )
    return lines


# ---- Markdown -----------------------------------------------------------------------------

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


def _md(value: Any) -> str:
    """Untrusted text as inert Markdown: no markup, no raw HTML, one table cell."""
    return ("" if value is None else str(value)).translate(_MD_SPECIAL)


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def _group_rows(groups: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            key,
            g.get("decisions"),
            g.get("approved"),
            g.get("edited"),
            g.get("rejected"),
            _pct(g.get("edit_rate")),
            _num(g.get("mean_edit_distance")),
        ]
        for key, g in groups.items()
    ]


_GROUP_HEADERS = ["", "Decisions", "Approved", "Edited", "Rejected", "Edit rate", "Mean distance"]


def _capped_note(total: int, shown: int, where: str = "the JSON report") -> list[str]:
    return ["", f"_{shown} of {total} shown; {where} has them all._"] if total > shown else []


def render_markdown(audit: dict[str, Any]) -> str:
    """A Markdown summary: integrity verdict first, then the quality signals' key tables."""
    integrity = audit.get("integrity", {})
    head = audit.get("head", {})
    quality = _quality(audit)
    out = [
        "# Draftgate audit",
        "",
        f"Ledger {_md(audit.get('ledger'))} · head #{head.get('seq', 0)}"
        f" {_md(head.get('hash'))} · generated {_md(audit.get('generated_at'))}",
        "",
    ]
    breaks = integrity.get("breaks", [])
    if _integrity_ok(audit):
        out.append("## Integrity: PASS")
        out += [
            "",
            f"The decision chain is intact; {_checked(integrity)}.",
        ]
    else:
        out.append(f"## Integrity: FAIL ({len(breaks)} break{'' if len(breaks) == 1 else 's'})")
        out.append("")
        out += _md_table(
            ["Kind", "Record", "Detail"],
            ([b.get("kind"), b.get("ref"), b.get("detail")] for b in breaks),
        )
    stale = integrity.get("stale_drafts", [])
    stale_exported = integrity.get("stale_in_export", [])
    out += [
        "",
        f"Stale drafts (source changed since generation): {len(stale)};"
        f" stale records in the export: {len(stale_exported)}.",
    ]
    for draft_id in stale_exported[:LIST_ROWS_MARKDOWN]:
        out.append(f"- stale in export: {_md(draft_id)}")
    out += ["", "## Summary", ""]
    out += _md_table(["Signal", "Value"], _headline(audit))

    edit_rate = quality.get("edit_rate", {})
    for group, title in (("by_kind", "kind"), ("by_reviewer", "reviewer"), ("by_model", "model")):
        if edit_rate.get(group):
            out += ["", f"### Edit rate by {title}", ""]
            out += _md_table(
                [title.capitalize(), *_GROUP_HEADERS[1:]], _group_rows(edit_rate[group])
            )

    reasons = quality.get("reject_reasons", {})
    if reasons:
        out += ["", "### Reject reasons", ""]
        out += _md_table(["Reason", "Count"], reasons.items())

    fast = quality.get("fast_decisions", {})
    if fast.get("by_reviewer"):
        out += ["", f"### Decisions faster than {fast.get('threshold_ms')} ms", ""]
        out += _md_table(
            ["Reviewer", "Decisions", "Timed", "Fast", "Share", "Median dwell (ms)"],
            (
                [
                    r,
                    t.get("decisions"),
                    t.get("measured"),
                    t.get("fast"),
                    _pct(t.get("share")),
                    t.get("median_dwell_ms"),
                ]
                for r, t in fast["by_reviewer"].items()
            ),
        )

    balance = quality.get("balance", {})
    if balance.get("kinds"):
        out += ["", "### Balance of kinds (signed-off examples)", ""]
        out += _md_table(
            ["Kind", "Count", "Share", "Target", "Deviation"],
            (
                [
                    k,
                    v.get("count"),
                    _pct(v.get("share")),
                    _pct(v.get("target")),
                    f"{v.get('deviation', 0) * 100:+.1f} pts",
                ]
                for k, v in balance["kinds"].items()
            ),
        )

    coverage = quality.get("coverage", {})
    uncovered = coverage.get("uncovered_chunks", [])
    if coverage:
        out += [
            "",
            "### Coverage",
            "",
            f"{coverage.get('chunks_covered', 0)} of {coverage.get('chunks_total', 0)} current"
            f" chunks and {coverage.get('documents_covered', 0)} of"
            f" {coverage.get('documents_total', 0)} documents have a signed-off example.",
        ]
        if uncovered:
            out.append("")
            out += _md_table(
                ["Document", "Section", "Lines"],
                (
                    [c.get("path"), c.get("heading"), f"{c.get('start_line')}–{c.get('end_line')}"]
                    for c in uncovered[:LIST_ROWS_MARKDOWN]
                ),
            )
            out += _capped_note(len(uncovered), min(len(uncovered), LIST_ROWS_MARKDOWN))

    contradictions = quality.get("contradictions", {}).get("pairs", [])
    if contradictions:
        out += ["", "### Contradictions", ""]
        out += _md_table(
            ["Question A", "Answer A", "Question B", "Answer B"],
            (
                [p.get("question_a"), p.get("answer_a"), p.get("question_b"), p.get("answer_b")]
                for p in contradictions[:LIST_ROWS_MARKDOWN]
            ),
        )
    phantoms = quality.get("phantom_references", {}).get("phantoms", [])
    if phantoms:
        out += ["", "### Phantom UI references", ""]
        out += _md_table(
            ["Name", "Examples", "First seen in"],
            (
                [p.get("name"), p.get("count"), p.get("example")]
                for p in phantoms[:LIST_ROWS_MARKDOWN]
            ),
        )
    agreement = quality.get("agreement", {})
    if agreement.get("pairs"):
        out += [
            "",
            "### Reviewer agreement",
            "",
            f"Cohen's κ over {agreement['pairs']} double-reviewed drafts: sign-off vs reject"
            f" {_num(agreement.get('two_way', {}).get('kappa'))}, approve/edit/reject"
            f" {_num(agreement.get('three_way', {}).get('kappa'))}.",
        ]
    provenance = audit.get("provenance", [])
    out += [
        "",
        "## Provenance",
        "",
        f"{len(provenance)} exported records; the JSON report"
        " lists each with its document lines, chunk, template, model, reviewer and verdict.",
    ]
    return "\n".join(out) + "\n"


# ---- HTML ---------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_PALETTE = {"bar": "#3b6fb6", "edit": "#d98c1f", "bad": "#c0392b", "ok": "#2e8b57"}


def _bar_chart(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    max_value: float | None = None,
    targets: dict[str, float] | None = None,
    color: str = _PALETTE["bar"],
) -> str:
    """A horizontal bar chart as inline SVG: (label, value, value text) per bar.

    ``targets`` draws a dark tick per label (e.g. the wanted share of a kind).
    """
    if not rows:
        return (
            f'<figure class="chart"><figcaption>{_e(title)}</figcaption>'
            '<p class="muted">No data.</p></figure>'
        )
    label_w, bar_w, value_w, row_h = 150, 260, 90, 24
    width = label_w + bar_w + value_w
    height = row_h * len(rows) + 8
    top = max([v for _, v, _ in rows] + list((targets or {}).values()) + [max_value or 0.0])
    scale = bar_w / top if top > 0 else 0.0
    parts = [
        f'<svg width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
    ]
    for index, (label, value, value_text) in enumerate(rows):
        y = 4 + index * row_h
        shown = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" class="lbl">'
            f"<title>{_e(label)}</title>{_e(shown)}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 8}" class="track"/>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{max(value * scale, 0):.1f}"'
            f' height="{row_h - 8}" fill="{color}" rx="2"/>'
        )
        if targets and label in targets:
            tx = label_w + targets[label] * scale
            parts.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + row_h - 2}" class="target"/>'
            )
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 16}" class="val">{_e(value_text)}</text>'
        )
    parts.append("</svg>")
    return f'<figure class="chart"><figcaption>{_e(title)}</figcaption>{"".join(parts)}</figure>'


def _rate_chart(title: str, groups: dict[str, dict[str, Any]]) -> str:
    rows = [
        (key, g["edit_rate"], f"{_pct(g['edit_rate'])} of {g['approved'] + g['edited']}")
        for key, g in groups.items()
        if g.get("edit_rate") is not None
    ]
    return _bar_chart(title, rows, max_value=1.0, color=_PALETTE["edit"])


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric_from: int = 99) -> str:
    head = "".join(
        f'<th class="{"num" if i >= numeric_from else ""}">{_e(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i >= numeric_from else ""}">{_e(cell)}</td>'
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    # Tables of figures stay narrow so a number is read next to its label.
    css_class = ' class="narrow"' if numeric_from < len(headers) else ""
    return f"<table{css_class}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _note_capped(total: int, shown: int) -> str:
    if total <= shown:
        return ""
    return f'<p class="muted">Showing {shown:,} of {total:,}; the JSON report lists them all.</p>'


_CSS = """
:root { --fg:#1d232b; --muted:#5f6b7a; --line:#dde3ea; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
.meta { color: var(--muted); font-size: 12.5px; word-break: break-all; }
.verdict { margin: 18px 0; padding: 16px 20px; border-radius: 8px; font-size: 20px;
           font-weight: 600; color: #fff; }
.verdict small { display: block; font-size: 13px; font-weight: 400; opacity: .92; margin-top: 2px; }
.pass { background: #2e8b57; } .fail { background: #c0392b; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
        padding: 10px 12px; }
.card b { display: block; font-size: 17px; }
.card span { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
          gap: 8px 24px; }
figure.chart { margin: 6px 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font-size: 12px; font-family: inherit; fill: #1d232b; }
svg .val { fill: #5f6b7a; }
svg .track { fill: #eef1f4; }
svg .target { stroke: #1d232b; stroke-width: 2; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 12.5px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.narrow { width: auto; min-width: 55%; }
td { overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.scroll { overflow-x: auto; }
.legend { color: var(--muted); font-size: 12px; }
table.prov { font-size: 11.5px; }
table.prov td { white-space: nowrap; overflow-wrap: normal; }
table.prov td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 150px; }
code { font-size: 0.95em; }
details { margin: 6px 0; }
summary { cursor: pointer; color: #3b6fb6; }
"""


def _cards(audit: dict[str, Any]) -> str:
    cards = "".join(
        f'<div class="card"><b>{_e(value)}</b><span>{_e(label)}</span></div>'
        for label, value in _headline(audit)
    )
    return f'<div class="cards">{cards}</div>'


def _checked(integrity: dict[str, Any]) -> str:
    exports, heads = integrity.get("exports_checked", 0), integrity.get("heads_checked", 0)
    return (
        f"{exports} export{'' if exports == 1 else 's'} and"
        f" {heads} recorded head{'' if heads == 1 else 's'} checked"
    )


def _integrity_html(audit: dict[str, Any]) -> str:
    integrity = audit.get("integrity", {})
    breaks = integrity.get("breaks", [])
    checked = _checked(integrity)
    if _integrity_ok(audit):
        banner = (
            f'<div class="verdict pass">Integrity: PASS<small>Decision chain intact to'
            f" #{_e(audit.get('head', {}).get('seq', 0))}; {_e(checked)}.</small></div>"
        )
    else:
        banner = (
            f'<div class="verdict fail">Integrity: FAIL — {len(breaks)} break'
            f"{'s' if len(breaks) != 1 else ''}<small>{_e(checked)}.</small></div>"
        )
    parts = [banner]
    if breaks:
        parts.append("<h3>Breaks</h3>")
        parts.append(
            _table(
                ["Kind", "Record", "Detail"],
                ([b.get("kind"), b.get("ref"), b.get("detail")] for b in breaks[:LIST_ROWS_HTML]),
            )
        )
        parts.append(_note_capped(len(breaks), LIST_ROWS_HTML))
    stale = integrity.get("stale_drafts", [])
    stale_exported = integrity.get("stale_in_export", [])
    parts.append(
        f"<p>Stale drafts (source changed since generation): <b>{len(stale):,}</b>;"
        f" stale records in the export: <b>{len(stale_exported):,}</b>.</p>"
    )
    if stale_exported:
        parts.append(
            _table(["Stale draft in export"], ([d] for d in stale_exported[:LIST_ROWS_HTML]))
        )
        parts.append(_note_capped(len(stale_exported), LIST_ROWS_HTML))
    return "".join(parts)


def _quality_html(quality: dict[str, Any]) -> str:
    if not quality:
        return "<p class='muted'>No quality signals in this audit.</p>"
    parts: list[str] = []
    edit_rate = quality.get("edit_rate", {})
    balance = quality.get("balance", {})
    fast = quality.get("fast_decisions", {})
    reasons = quality.get("reject_reasons", {})
    kinds = balance.get("kinds", {})
    charts = [
        _rate_chart("Edit rate by kind", edit_rate.get("by_kind", {})),
        _rate_chart("Edit rate by reviewer", edit_rate.get("by_reviewer", {})),
        _bar_chart(
            "Kind balance of signed-off examples (tick = target)",
            [(k, v["share"], f"{_pct(v['share'])} ({v['count']:,})") for k, v in kinds.items()],
            targets={k: v["target"] for k, v in kinds.items()},
        ),
        _bar_chart(
            "Reject reasons",
            [(reason, float(n), f"{n:,}") for reason, n in reasons.items()],
            color=_PALETTE["bad"],
        ),
        _bar_chart(
            f"Decisions faster than {fast.get('threshold_ms', '?')} ms, by reviewer",
            [
                (r, t["share"], f"{_pct(t['share'])} ({t['fast']:,})")
                for r, t in fast.get("by_reviewer", {}).items()
                if t.get("share") is not None
            ],
            max_value=1.0,
            color=_PALETTE["bad"],
        ),
    ]
    parts.append(f'<div class="charts">{"".join(charts)}</div>')

    parts.append("<h3>Edit rate and edit distance</h3>")
    parts.append(
        '<p class="legend">Edit rate = edits / (approvals + edits) over decisions in force;'
        " mean distance = mean normalised Levenshtein distance of the edits"
        " (0 unchanged, 1 rewritten).</p>"
    )
    for group, title in (
        ("by_kind", "Kind"),
        ("by_subtype", "Subtype"),
        ("by_template", "Template hash"),
        ("by_model", "Model"),
        ("by_document", "Document"),
        ("by_reviewer", "Reviewer"),
    ):
        groups = edit_rate.get(group, {})
        if not groups:
            continue
        rows = _group_rows(groups)
        if group == "by_template":
            for row in rows:
                names = groups[row[0]].get("template_names", [])
                row[0] = f"{', '.join(names)} ({_short_hash(row[0], 16)})"
        parts.append(_table([title, *_GROUP_HEADERS[1:]], rows, numeric_from=1))

    if fast.get("by_reviewer"):
        parts.append(f"<h3>Fast decisions (under {_e(fast.get('threshold_ms'))} ms)</h3>")
        parts.append(
            _table(
                [
                    "Reviewer",
                    "Decisions",
                    "Timed",
                    "Fast",
                    "Fast sign-offs",
                    "Share",
                    "Median dwell (ms)",
                ],
                (
                    [
                        r,
                        t["decisions"],
                        t["measured"],
                        t["fast"],
                        t["fast_signoffs"],
                        _pct(t["share"]),
                        t["median_dwell_ms"],
                    ]
                    for r, t in fast["by_reviewer"].items()
                ),
                numeric_from=1,
            )
        )

    if kinds:
        parts.append("<h3>Balance of kinds</h3>")
        parts.append(
            _table(
                ["Kind", "Count", "Share", "Target", "Deviation"],
                (
                    [
                        k,
                        v["count"],
                        _pct(v["share"]),
                        _pct(v["target"]),
                        f"{v['deviation'] * 100:+.1f} pts",
                    ]
                    for k, v in kinds.items()
                ),
                numeric_from=1,
            )
        )

    coverage = quality.get("coverage", {})
    if coverage:
        uncovered = coverage.get("uncovered_chunks", [])
        parts.append('<h3 id="coverage">Coverage</h3>')
        parts.append(
            f"<p><b>{coverage.get('chunks_covered', 0):,}</b> of"
            f" {coverage.get('chunks_total', 0):,} current chunks"
            f" ({_e(_pct(coverage.get('chunk_share')))}) and"
            f" <b>{coverage.get('documents_covered', 0):,}</b> of"
            f" {coverage.get('documents_total', 0):,} documents have a signed-off example.</p>"
        )
        docs = coverage.get("uncovered_documents", [])
        if docs:
            parts.append(
                "<p>Documents with none: "
                + ", ".join(f"<code>{_e(d)}</code>" for d in docs)
                + "</p>"
            )
        if uncovered:
            # A count per document reads at a glance; the full list (often long) folds away.
            per_doc: dict[str, int] = {}
            for chunk in uncovered:
                per_doc[chunk["path"]] = per_doc.get(chunk["path"], 0) + 1
            parts.append(
                _table(
                    ["Document", "Sections without an example"],
                    sorted(per_doc.items(), key=lambda item: (-item[1], item[0])),
                    numeric_from=1,
                )
            )
            parts.append(
                f"<details><summary>All {len(uncovered):,} uncovered sections</summary>"
                + _table(
                    ["Document", "Section", "Lines"],
                    (
                        [c["path"], c["heading"], f"{c['start_line']}–{c['end_line']}"]
                        for c in uncovered[:LIST_ROWS_HTML]
                    ),
                )
                + _note_capped(len(uncovered), LIST_ROWS_HTML)
                + "</details>"
            )

    duplicates = quality.get("duplicates", {})
    if duplicates:
        parts.append('<h3 id="duplicates">Duplicates</h3>')
        parts.append(
            f"<p>{duplicates.get('exact_group_count', 0):,} groups of exact duplicates"
            f" ({duplicates.get('exact_extra_copies', 0):,} extra copies);"
            f" {duplicates.get('near_pair_count', 0):,} near-duplicate pairs.</p>"
        )
        if duplicates.get("exact_groups"):
            parts.append(
                _table(
                    ["Question", "Copies", "Drafts"],
                    (
                        [
                            g["question"],
                            len(g["draft_ids"]),
                            ", ".join(_short_hash(d) for d in g["draft_ids"][:4]),
                        ]
                        for g in duplicates["exact_groups"][:LIST_ROWS_HTML]
                    ),
                )
            )
        near = duplicates.get("near_pairs", [])
        if near:
            parts.append(
                _table(
                    ["Question A", "Question B", "Similarity"],
                    (
                        [p["question_a"], p["question_b"], p["similarity"]]
                        for p in near[:LIST_ROWS_HTML]
                    ),
                    numeric_from=2,
                )
            )
            parts.append(
                _note_capped(duplicates.get("near_pair_count", 0), len(near[:LIST_ROWS_HTML]))
            )

    contradictions = quality.get("contradictions", {})
    parts.append("<h3>Contradictions</h3>")
    pairs = contradictions.get("pairs", [])
    if pairs:
        parts.append(
            '<p class="legend">Near-identical questions whose answers diverge: one of each pair'
            " is probably wrong.</p>"
        )
        parts.append(
            _table(
                ["Question A", "Answer A", "Question B", "Answer B", "Q sim.", "A sim."],
                (
                    [
                        p["question_a"],
                        p["answer_a"],
                        p["question_b"],
                        p["answer_b"],
                        p["question_similarity"],
                        p["answer_similarity"],
                    ]
                    for p in pairs[:LIST_ROWS_HTML]
                ),
                numeric_from=4,
            )
        )
        parts.append(_note_capped(contradictions.get("count", 0), len(pairs[:LIST_ROWS_HTML])))
    else:
        parts.append("<p class='muted'>None found.</p>")

    phantoms = quality.get("phantom_references", {})
    parts.append("<h3>Phantom UI references</h3>")
    if phantoms.get("phantoms"):
        parts.append(
            '<p class="legend">UI names in signed-off answers found neither in the docs nor in'
            f" the glossary ({phantoms.get('distinct_names_checked', 0):,} distinct names"
            " checked).</p>"
        )
        parts.append(
            _table(
                ["Name", "Examples", "First seen in"],
                (
                    [p["name"], p["count"], p["example"]]
                    for p in phantoms["phantoms"][:LIST_ROWS_HTML]
                ),
            )
        )
        parts.append(
            _note_capped(phantoms.get("count", 0), len(phantoms["phantoms"][:LIST_ROWS_HTML]))
        )
    else:
        parts.append(
            f"<p class='muted'>None found ({phantoms.get('distinct_names_checked', 0):,}"
            " distinct names checked).</p>"
        )

    agreement = quality.get("agreement", {})
    parts.append("<h3>Reviewer agreement</h3>")
    if agreement.get("pairs"):
        two, three = agreement.get("two_way", {}), agreement.get("three_way", {})
        parts.append(
            f"<p>Cohen's κ over <b>{agreement['pairs']:,}</b> double-reviewed drafts:"
            f" sign-off vs reject <b>{_e(_num(two.get('kappa')))}</b>"
            f" (observed {_e(_pct(two.get('observed')))}, chance {_e(_pct(two.get('expected')))});"
            f" approve / edit / reject <b>{_e(_num(three.get('kappa')))}</b>.</p>"
        )
        matrix = three.get("matrix", {})
        labels = list(matrix)
        parts.append(
            _table(
                ["First review ↓ / double review →", *labels],
                ([a, *(matrix[a][b] for b in labels)] for a in labels),
                numeric_from=1,
            )
        )
    else:
        parts.append("<p class='muted'>No double-reviewed drafts.</p>")
    return "".join(parts)


def _minute(stamp: Any) -> str:
    """'2026-11-22T04:37:59.634Z' -> '2026-11-22 04:37' (the JSON keeps the full time)."""
    text = "" if stamp is None else str(stamp)
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def _provenance_html(provenance: Sequence[dict[str, Any]]) -> str:
    if not provenance:
        return "<p class='muted'>No export checked: run the audit with --export DIR.</p>"
    shown = provenance[:PROVENANCE_HTML_ROWS]
    headers = [
        "Record",
        "Split",
        "Kind",
        "Source (lines)",
        "Chunk",
        "Template",
        "Model",
        "Generated",
        "Reviewer",
        "Verdict",
        "Decided",
    ]
    rows = []
    for r in shown:
        kind = r.get("kind") or ""
        if r.get("subtype"):
            kind += f" / {r['subtype']}"
        cells = [
            f"<td><code>{_e(_short_hash(r.get('record_hash'), 9))}</code></td>",
            f"<td>{_e(r.get('split'))}</td>",
            f'<td class="wrap">{_e(kind)}</td>',
            f'<td class="wrap">{_e(r.get("document"))}:'
            f"{_e(r.get('start_line'))}–{_e(r.get('end_line'))}</td>",
            f"<td><code>{_e(_short_hash(r.get('chunk_hash'), 9))}</code></td>",
            f"<td>{_e(r.get('template_name'))}"
            f" <code>{_e(_short_hash(r.get('template_hash'), 9))}</code></td>",
            f"<td>{_e(r.get('model'))}</td>",
            f"<td>{_e(_minute(r.get('generated_at')))}</td>",
            f"<td>{_e(r.get('reviewer'))}</td>",
            f"<td>{_e(r.get('verdict'))}</td>",
            f"<td>{_e(_minute(r.get('decided_at')))}</td>",
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return (
        f"<p>{len(provenance):,} exported records; hashes are shortened here, the JSON report"
        " has them in full.</p>"
        + _note_capped(len(provenance), len(shown))
        + '<div class="scroll"><table class="prov"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def render_html(audit: dict[str, Any]) -> str:
    """One self-contained HTML page: verdict, summary cards, charts, tables, provenance."""
    head = audit.get("head", {})
    title = "Draftgate audit: " + ("PASS" if _integrity_ok(audit) else "FAIL")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        "<h1>Draftgate audit</h1>"
        f'<p class="meta">Ledger <code>{_e(audit.get("ledger"))}</code> · head'
        f" #{_e(head.get('seq', 0))} <code>{_e(head.get('hash'))}</code> · generated"
        f" {_e(audit.get('generated_at'))}</p>"
        + _integrity_html(audit)
        + "<h2>Summary</h2>"
        + _cards(audit)
        + '<h2 id="quality">Quality signals</h2>'
        + _quality_html(_quality(audit))
        + '<h2 id="provenance">Provenance</h2>'
        + _provenance_html(audit.get("provenance", []))
        + "</main></body></html>\n"
    )
