"""``draftgate probe``: ask a tuned model the questions of an export it was evaluated on or
never saw, judge every answer against the signed-off reference, store the run in the ledger,
and send each failure back to the review queue as a probe draft.

``run_probe(ledger, ProbeOptions(...))`` returns a ``ProbeReport``; ``probe.render`` turns it
into terminal lines, Markdown or HTML.
"""

from probe.ask import AskSettings
from probe.cases import ProbeError, ProbeRefused
from probe.judge import JudgeSettings
from probe.render import render_html, render_markdown, render_terminal, verdict_line
from probe.report import ProbeReport
from probe.run import ProbeOptions, run_probe

__all__ = [
    "AskSettings",
    "JudgeSettings",
    "ProbeError",
    "ProbeOptions",
    "ProbeRefused",
    "ProbeReport",
    "render_html",
    "render_markdown",
    "render_terminal",
    "run_probe",
    "verdict_line",
]
