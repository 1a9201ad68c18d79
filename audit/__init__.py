"""The proof of what went out: integrity of the ledger and its exports, provenance of every
exported record, quality signals, and the reports that show them.

``build_audit`` returns an ``Audit``; ``audit.render`` turns it into a terminal summary,
Markdown or HTML, and ``Audit.to_json`` into the JSON report.
"""

from audit.build import PARALLEL_AUDIT_MIN_DECISIONS, build_audit
from audit.model import Audit

__all__ = ["PARALLEL_AUDIT_MIN_DECISIONS", "Audit", "build_audit"]
