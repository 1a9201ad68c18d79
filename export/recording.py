"""Recording an export in the ledger: its row, chained hash and every record's hash."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import Ledger
from ledger.chain import export_hash
from ledger.store import ExportRecordRow

if TYPE_CHECKING:
    from export.run import ExportOptions, ExportResult


def record_export(
    ledger: Ledger, result: ExportResult, options: ExportOptions, created_at: str, spool: Path
) -> None:
    """Record the export and every record's hash in the ledger, in one transaction."""
    row: dict[str, Any] = {
        "id": result.export_id,
        "created_at": created_at,
        "format": result.format,
        "out_dir": str(result.out_dir.resolve()),
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "record_count": result.record_count,
        "manifest_hash": result.manifest_hash,
        "seed": options.seed,
        "command": options.command,
    }
    with open(spool, encoding="utf-8") as lines:
        row["export_hash"] = export_hash(row, (_spooled(line) for line in lines))
    with open(spool, encoding="utf-8") as lines:
        ledger.record_export(row, (_spooled(line) for line in lines))


def _spooled(line: str) -> ExportRecordRow:
    """One spool line (record_hash, draft_id, decision_id, split, tab-separated)."""
    rhash, draft_id_, decision_id, split = line.rstrip("\n").split("\t")
    return ExportRecordRow(draft_id_, rhash, decision_id, split)


def recorded_exports(ledger: Ledger) -> list[dict[str, Any]]:
    """Every export the ledger knows of, oldest first."""
    return ledger.recorded_exports()
