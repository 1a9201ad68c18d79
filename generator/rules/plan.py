"""What a rule drafts for one (chunk, kind) job, and the run's report."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger import DraftIn

RULES_DRAFTER = "rules/1"


@dataclass
class RulesReport:
    calls_ok: int = 0
    jobs_skipped: int = 0
    drafts_by_kind: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    drafts_requested: int = 0


@dataclass
class Plan:
    """What a rule would draft for one (chunk, kind) job, and what it dropped and why."""

    drafts: list[DraftIn] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
