"""Recompute every content hash and walk the whole decision chain, reporting each break.

Before anything else the file itself is checked: SQLite's ``quick_check`` must pass (a file it
cannot read whole raises ``DamagedLedgerError``, exit 4: restore a backup), and the schema must
be the one the migrations create (``schema_breaks``): a redefined view or a dropped guard
trigger changes what every later read means, so it is a break of its own.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ledger.chain import (
    CHAINED_FIELDS,
    GENESIS_HASH,
    ExportHasher,
    call_hash,
    decision_entry_hash,
    drafts_hash,
    lease_hash,
)
from ledger.errors import DamagedLedgerError
from ledger.ids import text_hash
from ledger.migrations import DECISION_SESSIONS_SCHEMA, GUARDED_TABLES, TRAINING_RUNS_SCHEMA
from ledger.models import ChunkIn, DraftIn, DraftKind
from ledger.probes import probe_run_breaks
from ledger.progress import NO_PROGRESS, Progress, counted
from ledger.runs import training_runs
from ledger.store import Ledger, chunk_id, document_id, draft_fields_id, draft_id


@dataclass(frozen=True)
class Break:
    """One integrity failure: what kind, which record, and what is wrong with it."""

    kind: str
    ref: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.ref}: {self.detail}"


def verify(ledger: Ledger, progress: Progress = NO_PROGRESS) -> list[Break]:
    """Every break in the ledger; ``progress`` counts the rows read."""
    try:
        check_readable(ledger)
        breaks = schema_breaks(ledger)
        progress.begin(_rows_to_read(ledger), "ledger rows")
        breaks += _verify_documents(ledger, progress)
        breaks += _verify_chunks(ledger, progress)
        breaks += _verify_calls(ledger, progress)
        breaks += _verify_drafts(ledger, progress)
        breaks += _verify_chain(ledger, progress)
        breaks += _verify_leases(ledger, progress)
        breaks += _verify_exports(ledger, progress)
        breaks += _verify_training_runs(ledger)
        breaks += [Break(b.kind, b.ref, b.detail) for b in probe_run_breaks(ledger)]
    except sqlite3.DatabaseError as exc:
        raise as_damaged(ledger.path, exc) from exc
    return breaks


# The rows each check reads, for the progress total (drafts are read twice: by the call check
# and by the draft check).
_TABLES_READ = (
    "documents",
    "chunks",
    "drafts",
    "call_log",
    "generation_calls",
    "drafts",
    "decisions",
    "leases",
    "export_records",
)


def _rows_to_read(ledger: Ledger) -> int:
    present = {r[0] for r in ledger.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    counts = {
        table: ledger.query(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - fixed names
        for table in set(_TABLES_READ) & present
    }
    return sum(counts.get(table, 0) for table in _TABLES_READ)


_DAMAGE_MESSAGES = (
    "malformed",
    "disk image",
    "not a database",
    "file is not",
    "disk i/o",
    "corrupt",
)


def as_damaged(path: str, exc: sqlite3.DatabaseError) -> Exception:
    """The error to raise for a failed read: DamagedLedgerError when SQLite says the file is
    damaged, the error itself otherwise (a lock, a bug)."""
    message = " ".join(str(exc).split())
    if any(m in message.lower() for m in _DAMAGE_MESSAGES):
        return DamagedLedgerError.at(path, message)
    return exc


def check_readable(ledger: Ledger) -> None:
    """SQLite's own page-level check of the whole file (b-trees, free list, page counts)."""
    problems = [r[0] for r in ledger.query("PRAGMA quick_check")]
    if problems != ["ok"]:
        # A problem can span lines ("*** in database main ***\nPage 11: ..."): one line here.
        first = " ".join(problems[0].replace("*** in database main ***", "").split())
        more = f", and {len(problems) - 1} more problems" if len(problems) > 1 else ""
        raise DamagedLedgerError.at(ledger.path, f"SQLite's quick_check: {first}{more}")


GUARD_TRIGGERS = frozenset(
    f"{table}_no_{event}" for table in GUARDED_TABLES for event in ("update", "delete")
)


@functools.cache
def expected_schema(version: int) -> dict[str, tuple[str, str, str | None]]:
    """name -> (type, table, sql) of every schema object the migrations up to ``version``
    create, read from a fresh in-memory ledger."""
    fresh = Ledger.in_memory(upgrade_to=version)
    try:
        return _schema_of(fresh)
    finally:
        fresh.close()


def _schema_of(ledger: Ledger) -> dict[str, tuple[str, str, str | None]]:
    # sqlite_stat* are the planner's statistics (ANALYZE, PRAGMA optimize): not schema.
    return {
        r["name"]: (r["type"], r["tbl_name"], r["sql"])
        for r in ledger.query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"
        )
    }


def schema_breaks(ledger: Ledger) -> list[Break]:
    """Every table, index, view and trigger must be exactly the one the migrations create."""
    expected = expected_schema(ledger.schema_version())
    actual = _schema_of(ledger)
    breaks = []
    for name, (kind, table, sql) in sorted(expected.items()):
        found = actual.get(name)
        ref = f"{kind} {name}"
        if name in GUARD_TRIGGERS and found is None:
            detail = f"the trigger that refuses {name.rsplit('_', 1)[1]}s on {table} is gone"
            breaks.append(Break("guard_missing", ref, detail))
        elif name in GUARD_TRIGGERS and found != (kind, table, sql):
            detail = f"the trigger guarding {table} is not the one Draftgate created"
            breaks.append(Break("guard_altered", ref, detail))
        elif found is None:
            breaks.append(Break("schema_changed", ref, "missing from the ledger"))
        elif found != (kind, table, sql):
            breaks.append(Break("schema_changed", ref, "its definition was changed"))
    for name, (kind, _table, _sql) in sorted(actual.items()):
        if name not in expected:
            breaks.append(Break("schema_changed", f"{kind} {name}", "not created by Draftgate"))
    return breaks


def _verify_documents(ledger: Ledger, progress: Progress) -> list[Break]:
    breaks = []
    for row in counted(ledger.iter_query("SELECT * FROM documents"), progress):
        expected = document_id(
            row["path"], row["content_hash"], bool(row["removed"]), row["ingested_at"]
        )
        if row["id"] != expected:
            breaks.append(Break("document_hash", row["id"], f"{row['path']} does not match its id"))
    return breaks


def _verify_chunks(ledger: Ledger, progress: Progress) -> list[Break]:
    breaks = []
    for row in counted(
        ledger.iter_query(
            "SELECT c.*, d.id IS NOT NULL AS has_document FROM chunks c"
            " LEFT JOIN documents d ON d.id = c.document_id"
        ),
        progress,
    ):
        if not row["has_document"]:
            breaks.append(
                Break("chunk_document", row["id"], f"document {row['document_id']} is missing")
            )
        text = row["text"]
        actual_text_hash = text_hash(text) if isinstance(text, str) else f"not text: {text!r}"
        if actual_text_hash != row["text_hash"]:
            breaks.append(Break("chunk_text", row["id"], "chunk text does not match its hash"))
            continue
        try:
            chunk = ChunkIn(
                heading_path=json.loads(row["heading_path"]),
                start_line=row["start_line"],
                end_line=row["end_line"],
                text=row["text"],
                sections=json.loads(row["sections"]) if row["sections"] else [],
            )
        except (ValueError, TypeError):  # a field edited into something no chunk holds
            breaks.append(Break("chunk_hash", row["id"], "chunk fields cannot be read"))
            continue
        if chunk_id(row["document_id"], row["ordinal"], chunk, actual_text_hash) != row["id"]:
            breaks.append(Break("chunk_hash", row["id"], "chunk fields do not match its id"))
    return breaks


def _verify_drafts(ledger: Ledger, progress: Progress) -> list[Break]:
    breaks = []
    # Columns by position: a sqlite3.Row looks a name up column by column, 100k rows here.
    for row in counted(
        ledger.iter_query(
            "SELECT dr.id, dr.chunk_id, dr.call_id, dr.kind, dr.subtype, dr.question, dr.answer,"
            " dr.evidence, dr.meta, c.id IS NOT NULL AS has_chunk, g.id IS NOT NULL AS has_call"
            " FROM drafts dr LEFT JOIN chunks c ON c.id = dr.chunk_id"
            " LEFT JOIN generation_calls g ON g.id = dr.call_id",
            size=5000,
        ),
        progress,
    ):
        id_, chunk_id_, call_id, *stored, has_chunk, has_call = row
        # A draft must still lead back to its source text and the call that wrote it.
        if not has_chunk:
            breaks.append(Break("draft_chunk", id_, f"chunk {chunk_id_} is missing"))
        if not has_call:
            breaks.append(Break("draft_call", id_, f"generation call {call_id} is missing"))
        fields = _draft_fields(*stored)
        if fields is None:
            kind, subtype, question, answer, evidence, meta = stored
            try:
                draft = DraftIn(
                    kind=DraftKind(kind),
                    subtype=subtype,
                    question=question,
                    answer=answer,
                    evidence=json.loads(evidence),
                    meta=json.loads(meta),
                )
            except (ValueError, TypeError):  # a field edited into something no draft holds
                breaks.append(Break("draft_hash", id_, "draft fields cannot be read"))
                continue
            actual = draft_id(chunk_id_, draft)
        else:
            actual = draft_fields_id(chunk_id_, *fields)
        if actual != id_:
            breaks.append(Break("draft_hash", id_, "draft text does not match its id"))
    return breaks


_DRAFT_KINDS = frozenset(k.value for k in DraftKind)


def _draft_fields(
    kind: Any, subtype: Any, question: Any, answer: Any, evidence: Any, meta: Any
) -> tuple[Any, ...] | None:
    """A stored draft's fields when each already has exactly the type DraftIn would hold
    (the kind one of DraftKind's values, text as str, evidence a list of str, meta an object),
    so the model would hand them back unchanged: building it is skipped, 100k times in verify.
    None for anything else, which then goes through DraftIn and its refusals."""
    if not (
        type(kind) is str
        and kind in _DRAFT_KINDS
        and (subtype is None or type(subtype) is str)
        and type(question) is str
        and type(answer) is str
        and type(evidence) is str
        and type(meta) is str
    ):
        return None
    try:
        evidence_list = json.loads(evidence)
        meta_object = json.loads(meta)
    except ValueError:
        return None
    if type(evidence_list) is not list or any(type(e) is not str for e in evidence_list):
        return None
    if type(meta_object) is not dict:
        return None
    return kind, subtype, question, answer, evidence_list, meta_object


def _verify_chain(ledger: Ledger, progress: Progress) -> list[Break]:
    breaks = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    # The draft's presence comes from the same read: one query per decision would dominate
    # the walk at 100k decisions. The chained fields are read by position (a sqlite3.Row
    # looks a name up column by column), then the stored hash and the draft's presence.
    # Decisions name their review session from schema 4 on (hashed when present).
    sessions = ledger.schema_version() >= DECISION_SESSIONS_SCHEMA
    names = (*CHAINED_FIELDS, "session_id") if sessions else CHAINED_FIELDS
    columns = ", ".join(f"d.{name}" for name in names)
    for values in counted(
        ledger.iter_query(
            f"SELECT {columns}, d.entry_hash, dr.id IS NULL AS draft_missing FROM decisions d"
            " LEFT JOIN drafts dr ON dr.id = d.draft_id ORDER BY d.seq",
            size=5000,
        ),
        progress,
    ):
        fields = dict(zip(names, values, strict=False))
        entry_hash, draft_missing = values[-2], values[-1]
        seq = fields["seq"]
        ref = f"decision #{seq} ({fields['id']})"
        if seq != expected_seq:
            breaks.append(
                Break("chain_gap", ref, f"decisions #{expected_seq}..#{seq - 1} are missing")
            )
        if fields["prev_hash"] != prev_hash:
            breaks.append(Break("chain_link", ref, "prev_hash does not match the entry before"))
        if decision_entry_hash(fields) != entry_hash:
            breaks.append(Break("decision_hash", ref, "decision fields do not match entry_hash"))
        if draft_missing:
            breaks.append(Break("decision_draft", ref, f"draft {fields['draft_id']} is missing"))
        expected_seq = seq + 1
        prev_hash = entry_hash
    # Deleting the newest decisions leaves a self-consistent chain; SQLite's AUTOINCREMENT
    # counter still remembers the highest seq ever handed out.
    counter = ledger.query("SELECT seq FROM sqlite_sequence WHERE name = 'decisions'")
    if counter and counter[0][0] > expected_seq - 1:
        breaks.append(
            Break(
                "chain_truncated",
                f"decision #{counter[0][0]}",
                f"decisions #{expected_seq}..#{counter[0][0]} were removed from the end",
            )
        )
    return breaks


def _verify_calls(ledger: Ledger, progress: Progress) -> list[Break]:
    breaks = []
    drafts_of: dict[str, list[str]] = {}
    for call_id, draft_id_ in counted(
        ledger.iter_query("SELECT call_id, id FROM drafts", size=5000), progress
    ):
        drafts_of.setdefault(call_id, []).append(draft_id_)
    logged: dict[str, int] = {}
    expected_seq = 1
    for seq, call_id in counted(
        ledger.iter_query("SELECT seq, call_id FROM call_log ORDER BY seq"), progress
    ):
        if seq != expected_seq:
            breaks.append(
                Break(
                    "call_missing",
                    f"call_log #{seq}",
                    f"calls #{expected_seq}..#{seq - 1} were removed from the log",
                )
            )
        logged[call_id] = seq
        expected_seq = seq + 1
    breaks += _counter_break(ledger, "call_log", expected_seq - 1, "call_missing", "calls")
    for row in counted(ledger.iter_query("SELECT * FROM generation_calls"), progress):
        fields = dict(row)
        ref = f"call {row['id']}"
        if logged.pop(row["id"], None) is None:
            breaks.append(Break("call_unlogged", ref, "the call is not in the call log"))
        if drafts_hash(drafts_of.get(row["id"], [])) != row["drafts_hash"]:
            breaks.append(
                Break("call_drafts", ref, "its drafts are not the ones it was recorded with")
            )
        if call_hash(fields) != row["call_hash"]:
            breaks.append(Break("call_hash", ref, "call fields do not match call_hash"))
    for call_id, seq in logged.items():
        breaks.append(Break("call_missing", f"call_log #{seq}", f"call {call_id} is gone"))
    return breaks


def _counter_break(ledger: Ledger, table: str, last_seen: int, kind: str, what: str) -> list[Break]:
    """Deleting the newest rows leaves no gap, but SQLite's AUTOINCREMENT counter still
    remembers the highest number it handed out."""
    counter = ledger.query("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    if counter and counter[0][0] > last_seen:
        top = counter[0][0]
        return [Break(kind, f"{table} #{top}", f"{what} #{last_seen + 1}..#{top} were removed")]
    return []


def _verify_leases(ledger: Ledger, progress: Progress) -> list[Break]:
    breaks = []
    expected = 1
    for row in counted(ledger.iter_query("SELECT * FROM leases ORDER BY rowid_"), progress):
        ref = f"lease #{row['rowid_']}"
        if row["rowid_"] != expected:
            breaks.append(
                Break("lease_missing", ref, f"leases #{expected}..#{row['rowid_'] - 1} are gone")
            )
        if lease_hash(dict(row)) != row["lease_hash"]:
            breaks.append(Break("lease_hash", ref, "lease fields do not match lease_hash"))
        expected = row["rowid_"] + 1
    breaks += _counter_break(ledger, "leases", expected - 1, "lease_missing", "leases")
    return breaks


def _verify_exports(ledger: Ledger, progress: Progress) -> list[Break]:
    exports = ledger.query("SELECT * FROM exports ORDER BY created_at, id")
    hashers = {row["id"]: ExportHasher(dict(row)) for row in exports}
    unknown: set[Any] = set()
    # One pass in rowid order (a plain table scan) feeds every export's hash; SQLite joins
    # each record's fields as ExportHasher.add would.
    rows = counted(
        ledger.iter_query(
            "SELECT export_id, char(10) || draft_id || char(9) || record_hash || char(9)"
            " || decision_id || char(9) || split FROM export_records ORDER BY rowid",
            size=5000,
        ),
        progress,
    )
    # Consecutive rows of one export are hashed a few thousand at a time as one string:
    # hashing is incremental, and one update per run instead of per row keeps 400k rows cheap.
    run_id: Any = None
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        hasher = hashers.get(run_id)
        if hasher is None:
            unknown.add(run_id)
        else:
            hasher.add_line("".join(run))
        run.clear()

    for export_id, line in rows:
        if export_id != run_id or len(run) >= 5000:
            flush()
            run_id = export_id
        run.append(line or "\n\x00")  # a NULL field (only a changed schema allows it)
    flush()
    breaks = [
        Break(
            "export_row_changed",
            f"export {row['id']}",
            "the ledger's record of the export or of its records was changed",
        )
        for row in exports
        if hashers[row["id"]].hexdigest() != row["export_hash"]
    ]
    breaks += [
        Break("export_row_changed", f"export {export_id}", "records of an export not recorded")
        for export_id in sorted(unknown)
    ]
    return breaks


def _verify_training_runs(ledger: Ledger) -> list[Break]:
    """Each run's hash over its row and points, its link to the export it was recorded for
    (that export's manifest hash), and points that belong to no run."""
    if ledger.schema_version() < TRAINING_RUNS_SCHEMA:
        return []
    manifests = {r[0]: r[1] for r in ledger.query("SELECT id, manifest_hash FROM exports")}
    runs = training_runs(ledger)
    breaks = []
    for run in runs:
        ref = f"training run {run.id}"
        if not run.hash_ok:
            detail = "its row or loss points no longer match the hash recorded with them"
            breaks.append(Break("training_run_changed", ref, detail))
        if run.export_id not in manifests:
            detail = f"the export it was recorded for ({run.export_id}) is not in the ledger"
            breaks.append(Break("training_run_export_missing", ref, detail))
        elif manifests[run.export_id] != run.manifest_hash:
            detail = f"the manifest hash it recorded is not export {run.export_id}'s"
            breaks.append(Break("training_run_export_mismatch", ref, detail))
    known = [run.id for run in runs]
    orphaned = ledger.query(
        "SELECT DISTINCT run_id FROM training_run_points"
        " WHERE run_id NOT IN (SELECT value FROM json_each(?)) ORDER BY run_id",
        (json.dumps(known),),
    )
    breaks += [
        Break(
            "training_run_missing",
            f"training run {row[0]}",
            "its loss points remain, its row is gone",
        )
        for row in orphaned
    ]
    return breaks
