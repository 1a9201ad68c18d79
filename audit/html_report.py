"""The audit as one self-contained HTML page, through the Jinja2 template in ``templates/``.

The page needs no network: inline CSS, charts as inline SVG, no scripts, no fonts or images
fetched. Everything from drafts, documents or reviewers is untrusted text: the environment
autoescapes every value, so markup comes from the template alone. This module only computes
what the template lays out (chart geometry, table rows).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from audit.loss_chart import loss_charts
from audit.model import Audit, VerdictTally
from audit.present import (
    GROUP_HEADERS,
    LIST_ROWS_HTML,
    PROVENANCE_HTML_ROWS,
    break_record,
    checked,
    exports_label,
    group_rows,
    headline,
    minute,
    num,
    pct,
    short_hash,
    short_question,
    stale_record,
)
from ledger.dropped import PER_CHUNK_FULL
from ledger.text import visible

_PALETTE = {"bar": "#3b6fb6", "edit": "#d98c1f", "bad": "#c0392b", "ok": "#2e8b57"}
_LABEL_W, _BAR_W, _VALUE_W, _ROW_H = 150, 260, 90, 24
_LABEL_CHARS = 22


def _escape(value: Any) -> Markup:
    """Every value the template prints: escaped as ``html.escape`` does, None as nothing."""
    if isinstance(value, Markup):
        return value
    text = visible("" if value is None else str(value))
    return Markup(html.escape(text, quote=True))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("audit", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        finalize=_escape,
    )
    env.filters.update(
        thousands=lambda n: f"{n:,}",
        pct=pct,
        num=num,
        short_hash=short_hash,
        minute=minute,
        short_question=short_question,
        exports_label=exports_label,
    )
    return env


@dataclass(frozen=True)
class _Bar:
    label: str
    shown: str
    value_text: str
    y: int
    width: str
    target_x: str | None

    @property
    def text_y(self) -> int:
        return self.y + 16

    @property
    def bar_y(self) -> int:
        return self.y + 3

    @property
    def line_y2(self) -> int:
        return self.y + _ROW_H - 2


@dataclass(frozen=True)
class _Chart:
    """A horizontal bar chart: one bar per (label, value, value text)."""

    title: str
    bars: list[_Bar]
    color: str
    height: int
    width: int = _LABEL_W + _BAR_W + _VALUE_W
    label_x: int = _LABEL_W - 8
    bar_x: int = _LABEL_W
    bar_w: int = _BAR_W
    bar_h: int = _ROW_H - 8
    value_x: int = _LABEL_W + _BAR_W + 8


def _chart(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    max_value: float | None = None,
    targets: dict[str, float] | None = None,
    color: str = _PALETTE["bar"],
) -> _Chart:
    """``targets`` draws a dark tick per label (e.g. the wanted share of a kind)."""
    top = max([v for _, v, _ in rows] + list((targets or {}).values()) + [max_value or 0.0])
    scale = _BAR_W / top if top > 0 else 0.0
    bars = []
    for index, (label, value, value_text) in enumerate(rows):
        shown = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
        target_x = (
            f"{_LABEL_W + targets[label] * scale:.1f}" if targets and label in targets else None
        )
        bars.append(
            _Bar(
                label=label,
                shown=shown,
                value_text=value_text,
                y=4 + index * _ROW_H,
                width=f"{max(value * scale, 0):.1f}",
                target_x=target_x,
            )
        )
    return _Chart(title=title, bars=bars, color=color, height=_ROW_H * len(rows) + 8)


def _rate_chart(title: str, groups: dict[str, VerdictTally]) -> _Chart:
    rows = [
        (key, g.edit_rate, f"{pct(g.edit_rate)} of {g.approved + g.edited}")
        for key, g in groups.items()
        if g.edit_rate is not None
    ]
    return _chart(title, rows, max_value=1.0, color=_PALETTE["edit"])


def _charts(audit: Audit) -> list[_Chart]:
    quality = audit.quality
    kinds = quality.balance.kinds
    fast = quality.fast_decisions
    return [
        _rate_chart("Edit rate by kind", quality.edit_rate.by_kind),
        _rate_chart("Edit rate by reviewer", quality.edit_rate.by_reviewer),
        _chart(
            "Kind balance of signed-off examples (tick = target)",
            [(k, v.share, f"{pct(v.share)} ({v.count:,})") for k, v in kinds.items()],
            targets={k: v.target for k, v in kinds.items()},
        ),
        _chart(
            "Reject reasons",
            [(reason, float(n), f"{n:,}") for reason, n in quality.reject_reasons.items()],
            color=_PALETTE["bad"],
        ),
        _chart(
            f"Decisions faster than {fast.threshold_ms} ms, by reviewer",
            [
                (r, t.share, f"{pct(t.share)} ({t.fast:,})")
                for r, t in fast.by_reviewer.items()
                if t.share is not None
            ],
            max_value=1.0,
            color=_PALETTE["bad"],
        ),
    ]


def _edit_rate_tables(audit: Audit) -> list[tuple[list[str], list[list[object]]]]:
    edit_rate = audit.quality.edit_rate
    tables = []
    for groups, title in (
        (edit_rate.by_kind, "Kind"),
        (edit_rate.by_subtype, "Subtype"),
        (edit_rate.by_template, "Template hash"),
        (edit_rate.by_model, "Model"),
        (edit_rate.by_document, "Document"),
        (edit_rate.by_reviewer, "Reviewer"),
    ):
        if not groups:
            continue
        rows = group_rows(groups)
        if groups is edit_rate.by_template:
            # A template's hash is its identity; its names are what people recognise.
            for row in rows:
                names = groups[str(row[0])].template_names or []
                row[0] = f"{', '.join(names)} ({short_hash(row[0], 16)})"
        tables.append(([title, *GROUP_HEADERS[1:]], rows))
    return tables


def render_html(audit: Audit) -> str:
    """One self-contained HTML page: verdict, summary cards, charts, tables, provenance."""
    quality = audit.quality
    integrity = audit.integrity
    uncovered = quality.coverage.uncovered_chunks
    per_document: dict[str, int] = {}
    for chunk in uncovered:
        per_document[chunk.path] = per_document.get(chunk.path, 0) + 1
    matrix = quality.agreement.three_way.matrix
    labels = list(matrix)
    judged = [d for d in audit.dropped_candidates.candidates if d.reason != PER_CHUNK_FULL]
    template = _environment().get_template("report.html.j2")
    return template.render(
        audit=audit,
        quality=quality,
        title="Draftgate audit: " + ("PASS" if integrity.ok else "FAIL"),
        checked=checked(integrity),
        list_rows=LIST_ROWS_HTML,
        breaks=integrity.breaks,
        break_rows=[
            [b.kind, b.ref, *break_record(integrity, b), b.detail]
            for b in integrity.breaks[:LIST_ROWS_HTML]
        ],
        stale_in_export=integrity.stale_in_export,
        stale_rows=[stale_record(integrity, d) for d in integrity.stale_in_export[:LIST_ROWS_HTML]],
        ungrounded_rows=[
            stale_record(integrity, d) for d in integrity.ungrounded_in_export[:LIST_ROWS_HTML]
        ],
        headline=headline(audit),
        charts=_charts(audit),
        edit_rate_tables=_edit_rate_tables(audit),
        fast_rows=[
            [r, t.decisions, t.measured, t.fast, t.fast_signoffs, pct(t.share), t.median_dwell_ms]
            for r, t in quality.fast_decisions.by_reviewer.items()
        ],
        balance_rows=[
            [k, v.count, pct(v.share), pct(v.target), f"{v.deviation * 100:+.1f} pts"]
            for k, v in quality.balance.kinds.items()
        ],
        # A count per document reads at a glance; the full list (often long) folds away.
        uncovered_per_document=sorted(per_document.items(), key=lambda item: (-item[1], item[0])),
        uncovered_rows=[
            [c.path, c.heading, f"{c.start_line}–{c.end_line}"] for c in uncovered[:LIST_ROWS_HTML]
        ],
        exact_rows=[
            [g.question, len(g.draft_ids), ", ".join(short_hash(d) for d in g.draft_ids[:4])]
            for g in quality.duplicates.exact_groups[:LIST_ROWS_HTML]
        ],
        near_rows=[
            [p.question_a, p.question_b, p.similarity]
            for p in quality.duplicates.near_pairs[:LIST_ROWS_HTML]
        ],
        contradiction_rows=[
            [
                p.question_a,
                p.answer_a,
                p.question_b,
                p.answer_b,
                p.question_similarity,
                p.answer_similarity,
            ]
            for p in quality.contradictions.pairs[:LIST_ROWS_HTML]
        ],
        phantom_rows=[
            [p.name, p.count, p.example]
            for p in quality.phantom_references.phantoms[:LIST_ROWS_HTML]
        ],
        matrix_labels=labels,
        matrix_rows=[[a, *(matrix[a][b] for b in labels)] for a in labels],
        provenance_rows=audit.provenance[:PROVENANCE_HTML_ROWS],
        dropped_count_rows=[
            [kind, reason, n]
            for kind, reasons in audit.dropped_candidates.by_kind_and_reason.items()
            for reason, n in reasons.items()
        ],
        dropped_judged=len(judged),
        dropped_rows=[[d.kind, d.name, d.reason, d.at, d.text] for d in judged[:LIST_ROWS_HTML]],
        origin_rows=[
            [
                origin,
                *(counts.get(s, 0) for s in ("pending", "approved", "edited", "rejected")),
                sum(counts.values()),
            ]
            for origin, counts in sorted(audit.drafts_by_origin.items())
        ],
        loss_charts=loss_charts(audit),
        ai_addressed_rows=[
            [f.at, f.sentence] for f in audit.ai_addressed_text.sentences[:LIST_ROWS_HTML]
        ],
    )
