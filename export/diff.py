"""What changed between two recorded exports, record by record.

A record is identified by its draft. Between export A and export B a draft's record is
*added* (in B only), *removed* (in A only), *edited* (in both, with a different signed final
question or answer: a later edit decision, or an edit reverted back to the draft's text),
or unchanged; a record whose text is the same but whose split or record hash differs
(another system prompt, say) is counted apart, so an edit means a reviewer changed the text.
Everything is read from the ledger's ``export_records``, so the export folders need not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger import Ledger
from ledger.runs import find_export

_RECORDS_SQL = """
    SELECT er.draft_id, er.record_hash, er.split, dr.kind, dr.subtype, dr.question, dr.answer,
           de.verdict, de.final_question, de.final_answer
    FROM export_records er
    JOIN drafts dr ON dr.id = er.draft_id
    JOIN decisions de ON de.id = er.decision_id
    WHERE er.export_id = ?
    ORDER BY er.rowid
"""

CHANGES = ("added", "removed", "edited", "resplit_or_rehashed", "unchanged")


@dataclass(frozen=True)
class ExportedRecord:
    draft_id: str
    kind: str
    subtype: str | None
    question: str  # as signed off
    answer: str
    split: str
    record_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "draft_id": self.draft_id,
            "kind": self.kind,
            "subtype": self.subtype,
            "question": self.question,
            "answer": self.answer,
            "split": self.split,
            "record_hash": self.record_hash,
        }


@dataclass(frozen=True)
class EditedRecord:
    before: ExportedRecord
    after: ExportedRecord

    def as_dict(self) -> dict[str, Any]:
        return {
            "draft_id": self.after.draft_id,
            "kind": self.after.kind,
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
        }


@dataclass
class ExportDiff:
    export_a: dict[str, Any]
    export_b: dict[str, Any]
    added: list[ExportedRecord] = field(default_factory=list)
    removed: list[ExportedRecord] = field(default_factory=list)
    edited: list[EditedRecord] = field(default_factory=list)
    resplit_or_rehashed: list[EditedRecord] = field(default_factory=list)
    unchanged: int = 0
    # kind -> change -> count
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.edited or self.resplit_or_rehashed)

    def count(self, kind: str, change: str) -> None:
        counts = self.by_kind.setdefault(kind, dict.fromkeys(CHANGES, 0))
        counts[change] += 1

    def as_dict(self) -> dict[str, Any]:
        def export_ref(row: dict[str, Any]) -> dict[str, Any]:
            keys = ("id", "created_at", "format", "record_count", "manifest_hash")
            return {k: row[k] for k in keys}

        return {
            "a": export_ref(self.export_a),
            "b": export_ref(self.export_b),
            "counts": {
                "added": len(self.added),
                "removed": len(self.removed),
                "edited": len(self.edited),
                "resplit_or_rehashed": len(self.resplit_or_rehashed),
                "unchanged": self.unchanged,
            },
            "by_kind": {k: self.by_kind[k] for k in sorted(self.by_kind)},
            "added": [r.as_dict() for r in self.added],
            "removed": [r.as_dict() for r in self.removed],
            "edited": [e.as_dict() for e in self.edited],
            "resplit_or_rehashed": [e.as_dict() for e in self.resplit_or_rehashed],
        }


def exported_records(ledger: Ledger, export_id: str) -> dict[str, ExportedRecord]:
    """The records of one export by draft id, with the text they were signed off with."""
    records: dict[str, ExportedRecord] = {}
    for row in ledger.query(_RECORDS_SQL, (export_id,)):
        edited = row["verdict"] == "edit"
        records[row["draft_id"]] = ExportedRecord(
            draft_id=row["draft_id"],
            kind=row["kind"],
            subtype=row["subtype"],
            question=row["final_question"] if edited else row["question"],
            answer=row["final_answer"] if edited else row["answer"],
            split=row["split"],
            record_hash=row["record_hash"],
        )
    return records


def diff_exports(ledger: Ledger, ref_a: str, ref_b: str) -> ExportDiff:
    """What changed from export ``ref_a`` to export ``ref_b`` (ids or unique prefixes);
    ExportLookupError for an unknown or ambiguous one."""
    export_a, export_b = find_export(ledger, ref_a), find_export(ledger, ref_b)
    records_a = exported_records(ledger, export_a["id"])
    records_b = exported_records(ledger, export_b["id"])
    result = ExportDiff(export_a, export_b)
    for draft_id, after in records_b.items():
        before = records_a.get(draft_id)
        if before is None:
            result.added.append(after)
            result.count(after.kind, "added")
        elif (before.question, before.answer) != (after.question, after.answer):
            result.edited.append(EditedRecord(before, after))
            result.count(after.kind, "edited")
        elif (before.split, before.record_hash) != (after.split, after.record_hash):
            result.resplit_or_rehashed.append(EditedRecord(before, after))
            result.count(after.kind, "resplit_or_rehashed")
        else:
            result.unchanged += 1
            result.count(after.kind, "unchanged")
    for draft_id, before in records_a.items():
        if draft_id not in records_b:
            result.removed.append(before)
            result.count(before.kind, "removed")
    return result
