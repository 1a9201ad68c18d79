"""What a rule drafts for one (chunk, kind) job, what it dropped and why, and the run's report."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger import DraftIn

RULES_DRAFTER = "rules/1"


@dataclass(frozen=True)
class DroppedDraft:
    """A candidate a rule chose not to draft: the feature or name, why, and the ``doc:line``
    of the text that decided it ("" when no text did), so a reviewer can check the call."""

    kind: str
    name: str
    reason: str
    at: str = ""
    text: str = ""

    def as_record(self) -> dict[str, str]:
        record = {"kind": self.kind, "name": self.name, "reason": self.reason}
        if self.at:
            record["at"] = self.at
        if self.text:
            record["text"] = self.text[:200]
        return record


@dataclass
class RulesReport:
    calls_ok: int = 0
    jobs_skipped: int = 0
    drafts_by_kind: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    drafts_requested: int = 0
    # Drafts by document path and kind: what a dry run shows per document.
    drafts_by_document: dict[str, dict[str, int]] = field(default_factory=dict)
    # Every candidate dropped by the calls this run recorded, as stored in their params.
    dropped_drafts: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Plan:
    """What a rule would draft for one (chunk, kind) job, and what it dropped and why."""

    drafts: list[DraftIn] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_drafts: list[DroppedDraft] = field(default_factory=list)

    def drop(self, dropped: DroppedDraft) -> None:
        self.dropped[dropped.reason] = self.dropped.get(dropped.reason, 0) + 1
        self.dropped_drafts.append(dropped)
