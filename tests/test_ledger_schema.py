"""The ledger's schema: exact on a blank file, migrated in place, and refusals that change nothing.

When a migration adds a table or column, update EXPECTED_OBJECTS / EXPECTED_COLUMNS here: the
point of the listing is that a schema change is always a deliberate, reviewed diff.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from ledger import (
    ChunkIn,
    DecisionIn,
    DraftIn,
    DraftKind,
    ForeignLedgerError,
    Ledger,
    LedgerUnavailableError,
    NewerLedgerError,
    Verdict,
    verify,
)
from ledger.ids import new_event_id, text_hash
from ledger.migrations import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from ledger.store import chunk_id, document_id, draft_id, utc_now
from tests.support.builders import add_document

# (type, name, tbl_name) of every object in sqlite_master, sorted.
EXPECTED_OBJECTS = [
    ("index", "chunks_document", "chunks"),
    ("index", "chunks_text_hash", "chunks"),
    ("index", "decisions_draft", "decisions"),
    ("index", "decisions_reverts", "decisions"),
    ("index", "documents_path", "documents"),
    ("index", "drafts_chunk", "drafts"),
    ("index", "drafts_kind", "drafts"),
    ("index", "generation_calls_job", "generation_calls"),
    ("index", "job_claims_job", "job_claims"),
    ("index", "leases_draft", "leases"),
    ("index", "leases_reviewer", "leases"),
    ("index", "leases_session", "leases"),
    ("index", "probe_answers_draft", "probe_answers"),
    ("index", "sqlite_autoindex_ai_addressed_text_1", "ai_addressed_text"),
    ("index", "sqlite_autoindex_call_log_1", "call_log"),
    ("index", "sqlite_autoindex_chunks_1", "chunks"),
    ("index", "sqlite_autoindex_decisions_1", "decisions"),
    ("index", "sqlite_autoindex_decisions_2", "decisions"),
    ("index", "sqlite_autoindex_documents_1", "documents"),
    ("index", "sqlite_autoindex_drafts_1", "drafts"),
    ("index", "sqlite_autoindex_export_records_1", "export_records"),
    ("index", "sqlite_autoindex_exports_1", "exports"),
    ("index", "sqlite_autoindex_generation_calls_1", "generation_calls"),
    ("index", "sqlite_autoindex_ingest_roots_1", "ingest_roots"),
    ("index", "sqlite_autoindex_probe_answers_1", "probe_answers"),
    ("index", "sqlite_autoindex_probe_runs_1", "probe_runs"),
    ("index", "sqlite_autoindex_training_run_points_1", "training_run_points"),
    ("index", "sqlite_autoindex_training_runs_1", "training_runs"),
    ("index", "sqlite_autoindex_training_runs_2", "training_runs"),
    ("table", "ai_addressed_text", "ai_addressed_text"),
    ("table", "call_log", "call_log"),
    ("table", "chunks", "chunks"),
    ("table", "chunks_fts", "chunks_fts"),
    ("table", "chunks_fts_config", "chunks_fts_config"),
    ("table", "chunks_fts_data", "chunks_fts_data"),
    ("table", "chunks_fts_docsize", "chunks_fts_docsize"),
    ("table", "chunks_fts_idx", "chunks_fts_idx"),
    ("table", "decisions", "decisions"),
    ("table", "documents", "documents"),
    ("table", "drafts", "drafts"),
    ("table", "export_records", "export_records"),
    ("table", "exports", "exports"),
    ("table", "generation_calls", "generation_calls"),
    ("table", "ingest_roots", "ingest_roots"),
    ("table", "job_claims", "job_claims"),
    ("table", "leases", "leases"),
    ("table", "probe_answers", "probe_answers"),
    ("table", "probe_runs", "probe_runs"),
    ("table", "schema_migrations", "schema_migrations"),
    ("table", "sqlite_sequence", "sqlite_sequence"),
    ("table", "training_run_points", "training_run_points"),
    ("table", "training_runs", "training_runs"),
    ("trigger", "ai_addressed_text_no_delete", "ai_addressed_text"),
    ("trigger", "ai_addressed_text_no_update", "ai_addressed_text"),
    ("trigger", "call_log_insert", "generation_calls"),
    ("trigger", "call_log_no_delete", "call_log"),
    ("trigger", "call_log_no_update", "call_log"),
    ("trigger", "chunks_fts_insert", "chunks"),
    ("trigger", "chunks_no_delete", "chunks"),
    ("trigger", "chunks_no_update", "chunks"),
    ("trigger", "decisions_no_delete", "decisions"),
    ("trigger", "decisions_no_update", "decisions"),
    ("trigger", "documents_no_delete", "documents"),
    ("trigger", "documents_no_update", "documents"),
    ("trigger", "drafts_no_delete", "drafts"),
    ("trigger", "drafts_no_update", "drafts"),
    ("trigger", "export_records_no_delete", "export_records"),
    ("trigger", "export_records_no_update", "export_records"),
    ("trigger", "exports_no_delete", "exports"),
    ("trigger", "exports_no_update", "exports"),
    ("trigger", "generation_calls_no_delete", "generation_calls"),
    ("trigger", "generation_calls_no_update", "generation_calls"),
    ("trigger", "ingest_roots_no_delete", "ingest_roots"),
    ("trigger", "ingest_roots_no_update", "ingest_roots"),
    ("trigger", "job_claims_no_delete", "job_claims"),
    ("trigger", "job_claims_no_update", "job_claims"),
    ("trigger", "leases_no_delete", "leases"),
    ("trigger", "leases_no_update", "leases"),
    ("trigger", "probe_answers_no_delete", "probe_answers"),
    ("trigger", "probe_answers_no_update", "probe_answers"),
    ("trigger", "probe_runs_no_delete", "probe_runs"),
    ("trigger", "probe_runs_no_update", "probe_runs"),
    ("trigger", "training_run_points_no_delete", "training_run_points"),
    ("trigger", "training_run_points_no_update", "training_run_points"),
    ("trigger", "training_runs_no_delete", "training_runs"),
    ("trigger", "training_runs_no_update", "training_runs"),
    ("view", "current_chunks", "current_chunks"),
    ("view", "current_documents", "current_documents"),
    ("view", "draft_status", "draft_status"),
    ("view", "live_decisions", "live_decisions"),
    ("view", "stale_drafts", "stale_drafts"),
]

# Columns of Draftgate's own tables and views: "name TYPE" plus " NOT NULL" / " PK<n>".
EXPECTED_COLUMNS = {
    "documents": [
        "id TEXT PK1",
        "path TEXT NOT NULL",
        "content_hash TEXT",
        "title TEXT NOT NULL",
        "size_bytes INTEGER NOT NULL",
        "ingested_at TEXT NOT NULL",
        "removed INTEGER NOT NULL",
    ],
    "chunks": [
        "id TEXT PK1",
        "document_id TEXT NOT NULL",
        "ordinal INTEGER NOT NULL",
        "heading_path TEXT NOT NULL",
        "start_line INTEGER NOT NULL",
        "end_line INTEGER NOT NULL",
        "text TEXT NOT NULL",
        "text_hash TEXT NOT NULL",
        "sections TEXT",
    ],
    "ai_addressed_text": [
        "chunk_id TEXT NOT NULL PK1",
        "line INTEGER NOT NULL PK2",
        "sentence TEXT NOT NULL PK3",
        "recorded_at TEXT NOT NULL",
    ],
    "training_runs": [
        "id TEXT PK1",
        "export_id TEXT NOT NULL",
        "manifest_hash TEXT NOT NULL",
        "file_name TEXT NOT NULL",
        "file_hash TEXT NOT NULL",
        "source_format TEXT NOT NULL",
        "point_count INTEGER NOT NULL",
        "recorded_at TEXT NOT NULL",
        "run_hash TEXT NOT NULL",
    ],
    "training_run_points": [
        "run_id TEXT NOT NULL PK1",
        "step INTEGER NOT NULL PK2",
        "train_loss REAL",
        "eval_loss REAL",
    ],
    "ingest_roots": [
        "id TEXT PK1",
        "root TEXT NOT NULL",
        "key_prefix TEXT NOT NULL",
        "recorded_at TEXT NOT NULL",
    ],
    "generation_calls": [
        "id TEXT PK1",
        "job_key TEXT NOT NULL",
        "kind TEXT NOT NULL",
        "chunk_id TEXT NOT NULL",
        "drafter TEXT NOT NULL",
        "template_name TEXT NOT NULL",
        "template_hash TEXT NOT NULL",
        "model TEXT NOT NULL",
        "endpoint_host TEXT",
        "params TEXT NOT NULL",
        "attempts INTEGER NOT NULL",
        "prompt_tokens INTEGER NOT NULL",
        "completion_tokens INTEGER NOT NULL",
        "latency_ms REAL NOT NULL",
        "status TEXT NOT NULL",
        "error TEXT",
        "requested INTEGER NOT NULL",
        "produced INTEGER NOT NULL",
        "dropped TEXT NOT NULL",
        "started_at TEXT NOT NULL",
        "finished_at TEXT NOT NULL",
        "drafts_hash TEXT",
        "call_hash TEXT",
    ],
    "drafts": [
        "id TEXT PK1",
        "call_id TEXT NOT NULL",
        "chunk_id TEXT NOT NULL",
        "kind TEXT NOT NULL",
        "subtype TEXT",
        "question TEXT NOT NULL",
        "answer TEXT NOT NULL",
        "evidence TEXT NOT NULL",
        "meta TEXT NOT NULL",
        "created_at TEXT NOT NULL",
    ],
    "decisions": [
        "seq INTEGER PK1",
        "id TEXT NOT NULL",
        "draft_id TEXT NOT NULL",
        "reviewer TEXT NOT NULL",
        "verdict TEXT NOT NULL",
        "final_question TEXT",
        "final_answer TEXT",
        "reason TEXT",
        "note TEXT",
        "reverts_decision_id TEXT",
        "shown_at TEXT",
        "decided_at TEXT NOT NULL",
        "dwell_ms INTEGER",
        "edit_distance REAL",
        "double_review INTEGER NOT NULL",
        "prev_hash TEXT NOT NULL",
        "entry_hash TEXT NOT NULL",
        "session_id TEXT",
    ],
    "schema_migrations": [
        "version INTEGER PK1",
        "name TEXT NOT NULL",
        "applied_at TEXT NOT NULL",
    ],
    "leases": [
        "rowid_ INTEGER PK1",
        "draft_id TEXT NOT NULL",
        "reviewer TEXT NOT NULL",
        "session_id TEXT NOT NULL",
        "claimed_at TEXT NOT NULL",
        "expires_at TEXT NOT NULL",
        "lease_hash TEXT",
    ],
    "exports": [
        "id TEXT PK1",
        "created_at TEXT NOT NULL",
        "format TEXT NOT NULL",
        "out_dir TEXT NOT NULL",
        "head_seq INTEGER NOT NULL",
        "head_hash TEXT NOT NULL",
        "record_count INTEGER NOT NULL",
        "manifest_hash TEXT NOT NULL",
        "seed INTEGER NOT NULL",
        "command TEXT NOT NULL",
        "export_hash TEXT",
    ],
    "export_records": [
        "export_id TEXT NOT NULL PK1",
        "record_hash TEXT NOT NULL",
        "draft_id TEXT NOT NULL PK2",
        "decision_id TEXT NOT NULL",
        "split TEXT NOT NULL",
    ],
    "call_log": ["seq INTEGER PK1", "call_id TEXT NOT NULL"],
    "job_claims": [
        "rowid_ INTEGER PK1",
        "job_key TEXT NOT NULL",
        "run_id TEXT NOT NULL",
        "host TEXT NOT NULL",
        "pid INTEGER NOT NULL",
        "claimed_at TEXT NOT NULL",
        "expires_at TEXT NOT NULL",
    ],
    "chunks_fts": ["text"],
    "current_documents": [
        "id TEXT",
        "path TEXT",
        "content_hash TEXT",
        "title TEXT",
        "size_bytes INTEGER",
        "ingested_at TEXT",
        "removed INTEGER",
    ],
    "current_chunks": [
        "id TEXT",
        "document_id TEXT",
        "ordinal INTEGER",
        "heading_path TEXT",
        "start_line INTEGER",
        "end_line INTEGER",
        "text TEXT",
        "text_hash TEXT",
        "sections TEXT",
    ],
    "stale_drafts": ["draft_id TEXT"],
    "live_decisions": [
        "seq INTEGER",
        "id TEXT",
        "draft_id TEXT",
        "reviewer TEXT",
        "verdict TEXT",
        "final_question TEXT",
        "final_answer TEXT",
        "reason TEXT",
        "note TEXT",
        "reverts_decision_id TEXT",
        "shown_at TEXT",
        "decided_at TEXT",
        "dwell_ms INTEGER",
        "edit_distance REAL",
        "double_review INTEGER",
        "prev_hash TEXT",
        "entry_hash TEXT",
        "session_id TEXT",
    ],
    "draft_status": [
        "draft_id TEXT",
        "decision_id TEXT",
        "verdict TEXT",
        "reviewer TEXT",
        "seq INTEGER",
    ],
}


def _columns(db: sqlite3.Connection, name: str) -> list[str]:
    out = []
    for _cid, col, col_type, notnull, _default, pk in db.execute(f"PRAGMA table_info({name})"):
        text = f"{col} {col_type}".strip()
        if notnull:
            text += " NOT NULL"
        if pk:
            text += f" PK{pk}"
        out.append(text)
    return out


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def _file_bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_blank_ledger_gets_the_exact_schema(ledger_path: Path) -> None:
    Ledger.open(ledger_path).close()
    db = _raw(ledger_path)
    objects = db.execute("SELECT type, name, tbl_name FROM sqlite_master ORDER BY 1, 2").fetchall()
    assert objects == EXPECTED_OBJECTS
    for name, columns in EXPECTED_COLUMNS.items():
        assert _columns(db, name) == columns, name
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    migrations = db.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall()
    assert [(v, n) for v, n, _ in migrations] == [
        (i + 1, name) for i, (name, _) in enumerate(MIGRATIONS)
    ]
    assert all(applied.endswith("Z") for _, _, applied in migrations)
    db.close()


def test_reopening_a_current_ledger_changes_nothing(ledger_path: Path) -> None:
    Ledger.open(ledger_path).close()
    before = _file_bytes(ledger_path)
    with Ledger.open(ledger_path) as reopened:
        assert reopened.schema_version() == SCHEMA_VERSION
    assert _file_bytes(ledger_path) == before


def _add_v1_document(db: Ledger, path: str, sections: list[str]) -> list[str]:
    """Documents and chunks as the version-1 schema stored them.

    ``Ledger.ingest_document`` reads the ``current_documents`` view that migration 2 adds, so
    a version-1 file gets its documents through the same id functions, with plain INSERTs.
    """
    now = utc_now()
    doc = document_id(path, text_hash("".join(sections)), False, now)
    ids = []
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO documents(id, path, content_hash, title, size_bytes, ingested_at)"
            " VALUES (?, ?, ?, 'Old', 10, ?)",
            (doc, path, text_hash("".join(sections)), now),
        )
        for ordinal, text in enumerate(sections):
            chunk = ChunkIn(
                heading_path=["Old"], start_line=ordinal + 1, end_line=ordinal + 1, text=text
            )
            cid = chunk_id(doc, ordinal, chunk, text_hash(text))
            tx.execute(
                "INSERT INTO chunks(id, document_id, ordinal, heading_path, start_line, end_line,"
                " text, text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    doc,
                    ordinal,
                    json.dumps(["Old"]),
                    ordinal + 1,
                    ordinal + 1,
                    text,
                    text_hash(text),
                ),
            )
            ids.append(cid)
    return ids


def _add_v1_drafts(db: Ledger, chunk: str, count: int) -> list[str]:
    """A generation call and its drafts as the version-1 schema stored them (no hashes)."""
    now = utc_now()
    call = new_event_id()
    ids = []
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO generation_calls(id, job_key, kind, chunk_id, drafter, template_name,"
            " template_hash, model, params, attempts, prompt_tokens, completion_tokens,"
            " latency_ms, status, requested, produced, dropped, started_at, finished_at)"
            " VALUES (?, ?, 'qa', ?, 'test', 'qa.j2', 'b2:t', 'm', '{}', 1, 10, 20, 1.5, 'ok',"
            " ?, ?, '{}', ?, ?)",
            (call, new_event_id(), chunk, count, count, now, now),
        )
        for i in range(count):
            draft = DraftIn(kind=DraftKind.QA, question=f"Old question {i}?", answer="Old.")
            did = draft_id(chunk, draft)
            tx.execute(
                "INSERT INTO drafts(id, call_id, chunk_id, kind, question, answer, evidence,"
                " meta, created_at) VALUES (?, ?, ?, 'qa', ?, 'Old.', '[]', '{}', ?)",
                (did, call, chunk, draft.question, now),
            )
            ids.append(did)
    return ids


def test_old_version_ledger_migrates_in_place(ledger_path: Path) -> None:
    with Ledger.open(ledger_path, upgrade_to=1) as old:
        assert old.schema_version() == 1
        names = {r[0] for r in old.query("SELECT name FROM sqlite_master")}
        assert "chunks_fts" not in names and "leases" not in names
        chunk_ids = _add_v1_document(
            old, "docs/old.md", ["Kelp harvesting schedules", "Tide tables export"]
        )
        draft_ids = _add_v1_drafts(old, chunk_ids[0], count=2)
        old.record_decision(
            DecisionIn(draft_id=draft_ids[0], reviewer="ana", verdict=Verdict.APPROVE)
        )
        head_before = old.head()

    with Ledger.open(ledger_path) as new:
        assert new.schema_version() == SCHEMA_VERSION
        versions = [r[0] for r in new.query("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        names = {r[0] for r in new.query("SELECT name FROM sqlite_master")}
        assert {"chunks_fts", "leases", "exports", "export_records", "draft_status"} <= names
        # Old data kept and readable through the new views.
        assert {c.id for c in new.current_chunks()} == set(chunk_ids)
        assert new.head() == head_before
        status = new.status()
        assert status.documents == 1 and status.chunks == 2 and status.drafts == 2
        assert status.drafts_by_kind == {"qa": {"approved": 1, "pending": 1}}
        # The full-text index was filled for chunks written before it existed.
        hits = new.search_chunks("tide tables")
        assert [h.chunk_id for h in hits] == [chunk_ids[1]]
        assert verify(new) == []


def test_newer_ledger_is_refused_unchanged(ledger_path: Path) -> None:
    Ledger.open(ledger_path).close()
    db = _raw(ledger_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = _file_bytes(ledger_path)
    with pytest.raises(NewerLedgerError, match="newer Draftgate"):
        Ledger.open(ledger_path)
    assert _file_bytes(ledger_path) == before


def test_newer_ledger_in_rollback_journal_mode_is_refused_unchanged(tmp_path: Path) -> None:
    # A newer Draftgate might not use WAL: refusing must not switch the file's journal mode.
    path = tmp_path / "newer.sqlite"
    db = _raw(path)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.execute("CREATE TABLE future_things (x)")
    db.commit()
    db.close()
    before = _file_bytes(path)
    with pytest.raises(NewerLedgerError):
        Ledger.open(path)
    assert _file_bytes(path) == before
    assert not (tmp_path / "newer.sqlite-wal").exists()


def test_non_sqlite_file_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"These are my meeting notes, not a database.\n" * 50)
    before = _file_bytes(path)
    with pytest.raises(ForeignLedgerError, match="not a Draftgate ledger"):
        Ledger.open(path)
    assert _file_bytes(path) == before


def test_other_apps_sqlite_file_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = _raw(path)
    db.execute("CREATE TABLE contacts (name TEXT, email TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ana', 'ana@example.com')")
    db.commit()
    db.close()
    before = _file_bytes(path)
    with pytest.raises(ForeignLedgerError, match="not a Draftgate ledger"):
        Ledger.open(path)
    assert _file_bytes(path) == before
    assert not (tmp_path / "other.sqlite-wal").exists()


def test_sqlite_file_with_another_application_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = _raw(path)
    db.execute("PRAGMA application_id = 1234")
    db.close()
    before = _file_bytes(path)
    with pytest.raises(ForeignLedgerError):
        Ledger.open(path)
    assert _file_bytes(path) == before


def test_ledger_under_a_regular_file_is_unavailable(tmp_path: Path) -> None:
    # A folder that is a file fails for every user, root included.
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder")
    with pytest.raises(LedgerUnavailableError, match="cannot"):
        Ledger.open(blocker / "ledger.sqlite")
    assert blocker.read_text() == "not a folder"


def test_ledger_in_a_read_only_folder_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        probe = folder / "probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("permissions are not enforced for this user (root)")
        with pytest.raises(LedgerUnavailableError):
            Ledger.open(folder / "ledger.sqlite")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o700)


def test_documents_and_chunks_cannot_be_updated_or_deleted(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as opened:
        add_document(opened)
    db = _raw(ledger_path)
    for statement in (
        "UPDATE documents SET title = 'x'",
        "DELETE FROM documents",
        "UPDATE chunks SET text = 'x'",
        "DELETE FROM chunks",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()
    with Ledger.open(ledger_path) as opened:
        assert verify(opened) == [] and opened.status().chunks == 2
