"""The proof of what went out: integrity of the ledger and its exports, provenance of every
exported record, quality signals, and the reports that show them.

``build_audit`` returns an ``Audit``; the renderers turn it into a terminal summary, Markdown
or HTML, and ``Audit.to_json`` into the JSON report.
"""

from audit.build import PARALLEL_AUDIT_MIN_DECISIONS, build_audit
from audit.html_report import render_html
from audit.markdown_report import render_markdown
from audit.model import Audit
from audit.terminal_report import render_terminal_summary

__all__ = [
    "PARALLEL_AUDIT_MIN_DECISIONS",
    "Audit",
    "build_audit",
    "render_html",
    "render_markdown",
    "render_terminal_summary",
]
