"""A probe report as terminal lines (Rich markup), Markdown, HTML (Jinja2, autoescaped) and
JSON (``ProbeReport.to_json``), laid out like the audit's.

Questions and answers are the model's and the docs' text: untrusted. Markdown escapes them into
one inert cell or quote; the HTML environment escapes every value, so markup comes from the
template alone; the terminal gets them through ``rich.markup.escape`` and ``visible``.
"""

from __future__ import annotations

import html
from functools import cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from rich.markup import escape as rich_escape

from audit.markdown_report import md_table, md_text
from ledger.text import visible
from probe.report import ProbeReport, Tally

FAILURES_SHOWN_TERMINAL = 5
FAILURES_SHOWN_MARKDOWN = 20
FAILURES_SHOWN_HTML = 200
ANSWER_CHARS_TERMINAL = 160


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _short(text: str | None, limit: int) -> str:
    line = " ".join(visible(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def verdict_line(report: ProbeReport, min_pass: float | None) -> tuple[bool, str]:
    """(passed, what to say): the run's pass rate against ``--min-pass``; without one, passed
    means every answered probe passed (the exit code then does not depend on it)."""
    rate = report.totals.pass_rate
    if min_pass is None:
        failed = report.totals.answered - report.totals.passed
        return failed == 0, f"pass rate {pct(rate)}, {failed} failed (no --min-pass set)"
    ok = rate is not None and rate >= min_pass
    word = "at or above" if ok else "below"
    return ok, f"pass rate {pct(rate)} is {word} --min-pass {pct(min_pass)}"


def _tally_rows(groups: dict[str, Tally]) -> list[list[str]]:
    return [[name, str(t.probes), str(t.passed), pct(t.pass_rate)] for name, t in groups.items()]


def _sections(report: ProbeReport) -> list[tuple[str, dict[str, Tally]]]:
    return [
        ("Kind", report.by_kind),
        ("Subtype", report.by_subtype),
        ("Source", report.by_source),
        ("Document", report.by_document),
    ]


# ---- terminal -----------------------------------------------------------------------------


def render_terminal(report: ProbeReport) -> list[str]:
    totals, run = report.totals, report.run
    lines = [
        f"[bold]Probe {rich_escape(run.run_id)}[/]: model {rich_escape(run.model)}"
        f" at {rich_escape(run.endpoint_host or '?')} on export {rich_escape(run.export_id)}",
        f"passed [bold]{totals.passed}[/] of {totals.answered} answered"
        f" ({pct(totals.pass_rate)}); {totals.errors} call(s) failed;"
        f" over-refusal {pct(totals.over_refusal_rate)}"
        f" ({totals.over_refusals} of {totals.qa_probes} Q&A)",
        "by kind: "
        + ", ".join(
            f"{rich_escape(k)} {t.passed}/{t.probes}" for k, t in report.by_subtype.items()
        ),
    ]
    if totals.judged:
        lines.append(f"LLM judge agreed with the code on {totals.judge_agrees} of {totals.judged}")
    if totals.failure_drafts:
        lines.append(
            f"[yellow]{totals.failure_drafts} failure(s) sent to review as probe drafts[/]"
            " (draftgate review --origin probe)"
        )
    for failure in report.failures[:FAILURES_SHOWN_TERMINAL]:
        kind = failure.subtype or failure.kind
        lines.append(
            f"  [red]✗[/] {rich_escape(kind)}: “{rich_escape(_short(failure.question, 80))}”"
        )
        if failure.model_answer is not None:
            said = _short(failure.model_answer, ANSWER_CHARS_TERMINAL)
            lines.append(f"      said: {rich_escape(said)}")
        for reason in failure.reasons:
            lines.append(f"      [red]why:[/] {rich_escape(_short(reason, 200))}")
    if len(report.failures) > FAILURES_SHOWN_TERMINAL:
        more = len(report.failures) - FAILURES_SHOWN_TERMINAL
        lines.append(f"  … and {more} more failure(s) (see the report)")
    return lines


# ---- Markdown -----------------------------------------------------------------------------


def render_markdown(report: ProbeReport, min_pass: float | None = None) -> str:
    run, totals = report.run, report.totals
    ok, verdict = verdict_line(report, min_pass)
    out = [
        "# Draftgate probe",
        "",
        f"Run {md_text(run.run_id)} · model {md_text(run.model)} at {md_text(run.endpoint_host)}"
        f" · export {md_text(run.export_id)} (manifest {md_text(run.export_manifest_hash)})"
        f" · run hash {md_text(run.run_hash)} · {md_text(run.started_at)}",
        "",
        f"## {'PASS' if ok else 'FAIL'}: {md_text(verdict)}",
        "",
        f"- Probes: {totals.probes} ({totals.answered} answered, {totals.errors} call failures)",
        f"- Passed: {totals.passed} ({pct(totals.pass_rate)})",
        f"- Over-refusal: {totals.over_refusals} of {totals.qa_probes} Q&A probes"
        f" ({pct(totals.over_refusal_rate)})",
        f"- Failures sent to review: {totals.failure_drafts}",
    ]
    if run.judge_model:
        out.append(
            f"- LLM judge {md_text(run.judge_model)} agreed with the code on"
            f" {totals.judge_agrees} of {totals.judged} verdicts"
            f" ({totals.answered - totals.judged} answers without one)"
        )
    for title, groups in _sections(report):
        if groups:
            out += ["", f"## Pass rate by {title.lower()}", ""]
            out += md_table([title, "Probes", "Passed", "Pass rate"], _tally_rows(groups))
    out += ["", "## Worst failures", ""]
    if not report.failures:
        out.append("_None._")
    for failure in report.failures[:FAILURES_SHOWN_MARKDOWN]:
        kind = failure.subtype or failure.kind
        said = failure.model_answer if failure.error is None else failure.error
        out += [
            f"### {md_text(kind)} · {md_text(failure.document)} · {md_text(failure.source)}",
            "",
            f"> **Question:** {md_text(failure.question)}",
            ">",
            f"> **Model said:** {md_text(said)}",
            ">",
            f"> **Signed answer:** {md_text(failure.reference)}",
            "",
            *[f"- {md_text(reason)}" for reason in failure.reasons],
        ]
        if failure.judge:
            out.append(f"- LLM judge: {md_text(_judge_text(failure.judge))}")
        out.append("")
    if len(report.failures) > FAILURES_SHOWN_MARKDOWN:
        out.append(
            f"_{FAILURES_SHOWN_MARKDOWN} of {len(report.failures)} shown; the JSON report has"
            " them all._"
        )
    return "\n".join(out).rstrip() + "\n"


def _judge_text(judge: dict[str, Any]) -> str:
    if "error" in judge:
        return f"no verdict ({judge['error']})"
    return f"{'pass' if judge.get('passed') else 'fail'}: {judge.get('reason', '')}"


# ---- HTML ---------------------------------------------------------------------------------


def _escape(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(visible("" if value is None else str(value)), quote=True))


@cache
def _environment() -> Environment:
    env = Environment(
        # The audit's stylesheet, so both reports look alike.
        loader=ChoiceLoader(
            [PackageLoader("probe", "templates"), PackageLoader("audit", "templates")]
        ),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        finalize=_escape,
    )
    env.filters.update(pct=pct, judge_text=_judge_text)
    return env


def render_html(report: ProbeReport, min_pass: float | None = None) -> str:
    ok, verdict = verdict_line(report, min_pass)
    return (
        _environment()
        .get_template("probe.html.j2")
        .render(
            report=report,
            ok=ok,
            verdict=verdict,
            sections=[
                (title, _tally_rows(groups)) for title, groups in _sections(report) if groups
            ],
            failures=report.failures[:FAILURES_SHOWN_HTML],
            shown=FAILURES_SHOWN_HTML,
        )
    )
