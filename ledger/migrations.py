"""Schema migrations: ordered functions, each recorded in ``schema_migrations`` when applied.

``PRAGMA user_version`` mirrors the number applied so an open can tell at once whether a file
is older (migrate in place), current, or newer than this code (refuse). ``application_id``
marks the file as a Draftgate ledger so a foreign SQLite file is refused instead of altered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ledger.chain import call_hash, drafts_hash, export_hash, lease_hash

# "DGT1" as a big-endian int.
APPLICATION_ID = 0x44475431


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run a multi-statement script inside the caller's transaction.

    ``executescript`` would COMMIT first, breaking the one-transaction-per-migration rule, so
    statements are split with ``sqlite3.complete_statement`` (which understands trigger bodies).
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:80]}")


def _m001_core(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE documents (
            id            TEXT PRIMARY KEY,
            path          TEXT NOT NULL,
            content_hash  TEXT,
            title         TEXT NOT NULL,
            size_bytes    INTEGER NOT NULL,
            ingested_at   TEXT NOT NULL,
            removed       INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX documents_path ON documents(path);

        CREATE TABLE chunks (
            id            TEXT PRIMARY KEY,
            document_id   TEXT NOT NULL REFERENCES documents(id),
            ordinal       INTEGER NOT NULL,
            heading_path  TEXT NOT NULL,
            start_line    INTEGER NOT NULL,
            end_line      INTEGER NOT NULL,
            text          TEXT NOT NULL,
            text_hash     TEXT NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id, ordinal);
        CREATE INDEX chunks_text_hash ON chunks(text_hash);

        CREATE TABLE generation_calls (
            id                TEXT PRIMARY KEY,
            job_key           TEXT NOT NULL,
            kind              TEXT NOT NULL,
            chunk_id          TEXT NOT NULL REFERENCES chunks(id),
            drafter           TEXT NOT NULL,
            template_name     TEXT NOT NULL,
            template_hash     TEXT NOT NULL,
            model             TEXT NOT NULL,
            endpoint_host     TEXT,
            params            TEXT NOT NULL,
            attempts          INTEGER NOT NULL,
            prompt_tokens     INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            latency_ms        REAL NOT NULL,
            status            TEXT NOT NULL,
            error             TEXT,
            requested         INTEGER NOT NULL,
            produced          INTEGER NOT NULL,
            dropped           TEXT NOT NULL,
            started_at        TEXT NOT NULL,
            finished_at       TEXT NOT NULL
        );
        CREATE INDEX generation_calls_job ON generation_calls(job_key, status);

        CREATE TABLE drafts (
            id          TEXT PRIMARY KEY,
            call_id     TEXT NOT NULL REFERENCES generation_calls(id),
            chunk_id    TEXT NOT NULL REFERENCES chunks(id),
            kind        TEXT NOT NULL,
            subtype     TEXT,
            question    TEXT NOT NULL,
            answer      TEXT NOT NULL,
            evidence    TEXT NOT NULL,
            meta        TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE INDEX drafts_chunk ON drafts(chunk_id);
        CREATE INDEX drafts_kind ON drafts(kind);

        CREATE TABLE decisions (
            seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
            id                  TEXT NOT NULL UNIQUE,
            draft_id            TEXT NOT NULL REFERENCES drafts(id),
            reviewer            TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
            verdict             TEXT NOT NULL
                                CHECK (verdict IN ('approve', 'edit', 'reject', 'revert')),
            final_question      TEXT,
            final_answer        TEXT,
            reason              TEXT,
            note                TEXT,
            reverts_decision_id TEXT,
            shown_at            TEXT,
            decided_at          TEXT NOT NULL,
            dwell_ms            INTEGER,
            edit_distance       REAL,
            double_review       INTEGER NOT NULL DEFAULT 0,
            prev_hash           TEXT NOT NULL,
            entry_hash          TEXT NOT NULL UNIQUE
        );
        CREATE INDEX decisions_draft ON decisions(draft_id, seq);
        CREATE INDEX decisions_reverts ON decisions(reverts_decision_id);

        -- Records are never changed or removed through Draftgate; these triggers make an
        -- accidental UPDATE/DELETE fail loudly. (Someone with the file can drop them: that is
        -- what verify() and the export heads are for.)
        CREATE TRIGGER drafts_no_update BEFORE UPDATE ON drafts
            BEGIN SELECT RAISE(ABORT, 'drafts are immutable'); END;
        CREATE TRIGGER drafts_no_delete BEFORE DELETE ON drafts
            BEGIN SELECT RAISE(ABORT, 'drafts are immutable'); END;
        CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        """,
    )


def _m002_review_export_search(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Review leases are append-only too: a claim is a new row; the live lease on a draft
        -- is its newest row whose expires_at is still ahead.
        CREATE TABLE leases (
            rowid_      INTEGER PRIMARY KEY AUTOINCREMENT,
            draft_id    TEXT NOT NULL REFERENCES drafts(id),
            reviewer    TEXT NOT NULL,
            session_id  TEXT NOT NULL,
            claimed_at  TEXT NOT NULL,
            expires_at  TEXT NOT NULL
        );
        CREATE INDEX leases_draft ON leases(draft_id, rowid_);

        CREATE TABLE exports (
            id             TEXT PRIMARY KEY,
            created_at     TEXT NOT NULL,
            format         TEXT NOT NULL,
            out_dir        TEXT NOT NULL,
            head_seq       INTEGER NOT NULL,
            head_hash      TEXT NOT NULL,
            record_count   INTEGER NOT NULL,
            manifest_hash  TEXT NOT NULL,
            seed           INTEGER NOT NULL,
            command        TEXT NOT NULL
        );
        CREATE TABLE export_records (
            export_id    TEXT NOT NULL REFERENCES exports(id),
            record_hash  TEXT NOT NULL,
            draft_id     TEXT NOT NULL REFERENCES drafts(id),
            decision_id  TEXT NOT NULL REFERENCES decisions(id),
            split        TEXT NOT NULL,
            PRIMARY KEY (export_id, draft_id)
        );

        -- Full-text index over chunk text: the corpus-wide absence check for negatives and
        -- wrong UI names searches it.
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='rowid', tokenize='unicode61'
        );
        INSERT INTO chunks_fts(rowid, text) SELECT rowid, text FROM chunks;
        CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks
            BEGIN INSERT INTO chunks_fts(rowid, text) VALUES (new.rowid, new.text); END;

        -- Derived state lives in views, so it is never stored twice.
        -- The current version of each document path is its newest row.
        CREATE VIEW current_documents AS
            SELECT d.* FROM documents d
            WHERE d.rowid = (SELECT max(d2.rowid) FROM documents d2 WHERE d2.path = d.path);
        CREATE VIEW current_chunks AS
            SELECT c.* FROM chunks c
            JOIN current_documents cd ON cd.id = c.document_id
            WHERE cd.removed = 0;
        -- A draft is stale when the text of its chunk no longer occurs in the current version
        -- of its document (edited, or the file was removed).
        CREATE VIEW stale_drafts AS
            SELECT dr.id AS draft_id FROM drafts dr
            JOIN chunks c ON c.id = dr.chunk_id
            JOIN documents d ON d.id = c.document_id
            WHERE NOT EXISTS (
                SELECT 1 FROM chunks c2
                JOIN current_documents cd ON cd.id = c2.document_id
                WHERE c2.text_hash = c.text_hash AND cd.path = d.path AND cd.removed = 0
            );
        -- Decisions still in force: not reverts, and not undone by a revert.
        CREATE VIEW live_decisions AS
            SELECT d.* FROM decisions d
            WHERE d.verdict != 'revert'
              AND NOT EXISTS (
                  SELECT 1 FROM decisions r
                  WHERE r.verdict = 'revert' AND r.reverts_decision_id = d.id
              );
        -- A draft's status comes from its latest live decision; no row means pending.
        -- Each draft's newest live decision is looked up through decisions_draft, so SQLite
        -- flattens the view: a lookup by draft_id is one index probe (a window function here
        -- would materialise every live decision first: 1-2 s per read at 100k decisions).
        CREATE VIEW draft_status AS
            SELECT dr.id AS draft_id, d.id AS decision_id, d.verdict, d.reviewer, d.seq
            FROM drafts dr
            JOIN decisions d ON d.id = (
                SELECT ld.id FROM live_decisions ld
                WHERE ld.draft_id = dr.id
                ORDER BY ld.seq DESC LIMIT 1
            );

        -- Document versions and their chunks are what drafts are grounded in: a new version is
        -- a new row (ingest_document, mark_removed), never an edit of an old one.
        CREATE TRIGGER documents_no_update BEFORE UPDATE ON documents
            BEGIN SELECT RAISE(ABORT, 'documents are append-only'); END;
        CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
            BEGIN SELECT RAISE(ABORT, 'documents are append-only'); END;
        CREATE TRIGGER chunks_no_update BEFORE UPDATE ON chunks
            BEGIN SELECT RAISE(ABORT, 'chunks are append-only'); END;
        CREATE TRIGGER chunks_no_delete BEFORE DELETE ON chunks
            BEGIN SELECT RAISE(ABORT, 'chunks are append-only'); END;

        -- Review queue: release_session() finds a session's leases without a full scan.
        CREATE INDEX leases_session ON leases(session_id, expires_at);
        """,
    )


# Every table whose rows are never changed or removed, with the triggers that guard it.
# verify() reports a guard that is gone (guard_missing) or no longer the one created here
# (guard_altered).
GUARDED_TABLES = (
    "documents",
    "chunks",
    "generation_calls",
    "call_log",
    "drafts",
    "decisions",
    "leases",
    "exports",
    "export_records",
    "ingest_roots",  # migration 4
    "ai_addressed_text",  # migration 6
    "training_runs",  # migration 9
    "training_run_points",  # migration 9
    "probe_runs",  # migration 8
    "probe_answers",  # migration 8
    "job_claims",  # migration 9
)


def _m003_event_hashes_and_guards(db: sqlite3.Connection) -> None:
    """Hashes for the event rows that had none, a counter of calls, and guards on every table.

    Rows written before this migration get their hashes here, so a ledger made by an older
    version verifies after the upgrade (the hashes vouch for the rows as they were found).
    """
    run_script(
        db,
        """
        ALTER TABLE generation_calls ADD COLUMN drafts_hash TEXT;
        ALTER TABLE generation_calls ADD COLUMN call_hash TEXT;
        ALTER TABLE leases ADD COLUMN lease_hash TEXT;
        ALTER TABLE exports ADD COLUMN export_hash TEXT;

        -- One row per call in the order they were recorded: a deleted call (even a failed one
        -- that left no drafts) leaves a row pointing at nothing, or a gap in seq.
        CREATE TABLE call_log (
            seq      INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id  TEXT NOT NULL UNIQUE
        );
        INSERT INTO call_log(call_id) SELECT id FROM generation_calls ORDER BY rowid;
        CREATE TRIGGER call_log_insert AFTER INSERT ON generation_calls
            BEGIN INSERT INTO call_log(call_id) VALUES (new.id); END;
        """,
    )
    draft_ids: dict[str, list[str]] = {}
    for call_id, draft_id in db.execute("SELECT call_id, id FROM drafts"):
        draft_ids.setdefault(call_id, []).append(draft_id)
    call_names = [d[0] for d in db.execute("SELECT * FROM generation_calls LIMIT 0").description]
    for row in db.execute("SELECT * FROM generation_calls").fetchall():
        fields = dict(zip(call_names, row, strict=True))
        fields["drafts_hash"] = drafts_hash(draft_ids.get(fields["id"], []))
        db.execute(
            "UPDATE generation_calls SET drafts_hash = ?, call_hash = ? WHERE id = ?",
            (fields["drafts_hash"], call_hash(fields), fields["id"]),
        )
    lease_names = [d[0] for d in db.execute("SELECT * FROM leases LIMIT 0").description]
    for row in db.execute("SELECT * FROM leases").fetchall():
        fields = dict(zip(lease_names, row, strict=True))
        db.execute(
            "UPDATE leases SET lease_hash = ? WHERE rowid_ = ?",
            (lease_hash(fields), fields["rowid_"]),
        )
    export_names = [d[0] for d in db.execute("SELECT * FROM exports LIMIT 0").description]
    for row in db.execute("SELECT * FROM exports").fetchall():
        fields = dict(zip(export_names, row, strict=True))
        records = db.execute(
            "SELECT draft_id, record_hash, decision_id, split FROM export_records"
            " WHERE export_id = ? ORDER BY rowid",
            (fields["id"],),
        )
        db.execute(
            "UPDATE exports SET export_hash = ? WHERE id = ?",
            (export_hash(fields, (tuple(r) for r in records)), fields["id"]),
        )
    for table in ("generation_calls", "call_log", "leases", "exports", "export_records"):
        run_script(
            db,
            f"""
            CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END;
            CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END;
            """,
        )


def _m004_chunk_sections_and_ingest_roots(db: sqlite3.Connection) -> None:
    """Sections per chunk, and the docs folder each ingest read.

    Chunks stored before have no sections (NULL): their ids hash exactly as before.
    """
    run_script(
        db,
        """
        ALTER TABLE chunks ADD COLUMN sections TEXT;

        -- One row per ingest: the docs folder read (absolute) and the prefix document paths
        -- were keyed with. The newest row is the folder the current documents came from.
        CREATE TABLE ingest_roots (
            id          TEXT PRIMARY KEY,
            root        TEXT NOT NULL,
            key_prefix  TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE TRIGGER ingest_roots_no_update BEFORE UPDATE ON ingest_roots
            BEGIN SELECT RAISE(ABORT, 'ingest_roots rows are append-only'); END;
        CREATE TRIGGER ingest_roots_no_delete BEFORE DELETE ON ingest_roots
            BEGIN SELECT RAISE(ABORT, 'ingest_roots rows are append-only'); END;
        """,
    )


def _m005_decision_sessions(db: sqlite3.Connection) -> None:
    """Each decision names the review session that made it, so the one-decision rule and the
    leases can tell two sessions under one reviewer name apart. Older decisions keep NULL
    (and their hashes: the session id is hashed only when present)."""
    run_script(
        db,
        """
        ALTER TABLE decisions ADD COLUMN session_id TEXT;
        -- The queue's lease check looks up live leases by reviewer (who else reviews under
        -- this name) and by draft.
        CREATE INDEX leases_reviewer ON leases(reviewer, expires_at);
        """,
    )


def _m006_ai_addressed_text(db: sqlite3.Connection) -> None:
    """Doc sentences addressed to an AI assistant, flagged at ingest.

    The ledger cannot tell such text itself (the check lives with ingest), so ingest records
    what it found per chunk. A ledger upgraded from before has none until the next ingest,
    which checks every current chunk and records the flags it lacks.
    """
    run_script(
        db,
        """
        CREATE TABLE ai_addressed_text (
            chunk_id     TEXT NOT NULL REFERENCES chunks(id),
            line         INTEGER NOT NULL,
            sentence     TEXT NOT NULL,
            recorded_at  TEXT NOT NULL,
            PRIMARY KEY (chunk_id, line, sentence)
        );
        CREATE TRIGGER ai_addressed_text_no_update BEFORE UPDATE ON ai_addressed_text
            BEGIN SELECT RAISE(ABORT, 'ai_addressed_text rows are append-only'); END;
        CREATE TRIGGER ai_addressed_text_no_delete BEFORE DELETE ON ai_addressed_text
            BEGIN SELECT RAISE(ABORT, 'ai_addressed_text rows are append-only'); END;
        """,
    )


def _m007_training_runs(db: sqlite3.Connection) -> None:
    """Training runs recorded beside the export they trained on (``draftgate runs add``):
    the export's manifest hash and the metrics file's hash at the time, and every loss point
    read from the file. ``run_hash`` covers the row and its points (``ledger.runs``)."""
    run_script(
        db,
        """
        CREATE TABLE training_runs (
            id             TEXT PRIMARY KEY,
            export_id      TEXT NOT NULL REFERENCES exports(id),
            manifest_hash  TEXT NOT NULL,
            file_name      TEXT NOT NULL,
            file_hash      TEXT NOT NULL,
            source_format  TEXT NOT NULL,
            point_count    INTEGER NOT NULL,
            recorded_at    TEXT NOT NULL,
            run_hash       TEXT NOT NULL,
            UNIQUE (export_id, file_hash)
        );
        CREATE TABLE training_run_points (
            run_id      TEXT NOT NULL REFERENCES training_runs(id),
            step        INTEGER NOT NULL,
            train_loss  REAL,
            eval_loss   REAL,
            PRIMARY KEY (run_id, step)
        );
        CREATE TRIGGER training_runs_no_update BEFORE UPDATE ON training_runs
            BEGIN SELECT RAISE(ABORT, 'training_runs rows are append-only'); END;
        CREATE TRIGGER training_runs_no_delete BEFORE DELETE ON training_runs
            BEGIN SELECT RAISE(ABORT, 'training_runs rows are append-only'); END;
        CREATE TRIGGER training_run_points_no_update BEFORE UPDATE ON training_run_points
            BEGIN SELECT RAISE(ABORT, 'training_run_points rows are append-only'); END;
        CREATE TRIGGER training_run_points_no_delete BEFORE DELETE ON training_run_points
            BEGIN SELECT RAISE(ABORT, 'training_run_points rows are append-only'); END;
        """,
    )


def _m008_probe_runs(db: sqlite3.Connection) -> None:
    """Probe runs: a model asked an export's eval and held-out questions, every answer with the
    verdict the code (and optionally an LLM judge) gave it. Hash-linked to the export probed."""
    run_script(
        db,
        """
        CREATE TABLE probe_runs (
            id                    TEXT PRIMARY KEY,
            export_id             TEXT NOT NULL REFERENCES exports(id),
            export_manifest_hash  TEXT NOT NULL,
            model                 TEXT NOT NULL,
            endpoint_host         TEXT,
            judge_model           TEXT,
            params                TEXT NOT NULL,
            started_at            TEXT NOT NULL,
            finished_at           TEXT NOT NULL,
            probe_count           INTEGER NOT NULL,
            passed_count          INTEGER NOT NULL,
            failure_drafts        INTEGER NOT NULL,
            answers_hash          TEXT NOT NULL,
            run_hash              TEXT NOT NULL
        );
        CREATE TABLE probe_answers (
            run_id          TEXT NOT NULL REFERENCES probe_runs(id),
            ordinal         INTEGER NOT NULL,
            draft_id        TEXT NOT NULL REFERENCES drafts(id),
            decision_id     TEXT NOT NULL REFERENCES decisions(id),
            source          TEXT NOT NULL CHECK (source IN ('eval', 'held_out')),
            kind            TEXT NOT NULL,
            subtype         TEXT,
            document        TEXT NOT NULL,
            question        TEXT NOT NULL,
            canary          TEXT,
            reference       TEXT NOT NULL,
            model_answer    TEXT,
            error           TEXT,
            passed          INTEGER NOT NULL,
            over_refusal    INTEGER NOT NULL,
            reasons         TEXT NOT NULL,
            judge           TEXT,
            latency_ms      REAL NOT NULL,
            failure_draft_id TEXT REFERENCES drafts(id),
            answer_hash     TEXT NOT NULL,
            PRIMARY KEY (run_id, ordinal)
        );
        CREATE INDEX probe_answers_draft ON probe_answers(draft_id);
        CREATE TRIGGER probe_runs_no_update BEFORE UPDATE ON probe_runs
            BEGIN SELECT RAISE(ABORT, 'probe_runs rows are append-only'); END;
        CREATE TRIGGER probe_runs_no_delete BEFORE DELETE ON probe_runs
            BEGIN SELECT RAISE(ABORT, 'probe_runs rows are append-only'); END;
        CREATE TRIGGER probe_answers_no_update BEFORE UPDATE ON probe_answers
            BEGIN SELECT RAISE(ABORT, 'probe_answers rows are append-only'); END;
        CREATE TRIGGER probe_answers_no_delete BEFORE DELETE ON probe_answers
            BEGIN SELECT RAISE(ABORT, 'probe_answers rows are append-only'); END;
        """,
    )


def _m009_job_claims(db: sqlite3.Connection) -> None:
    """Claims on generation jobs, so that runs sharing a ledger pay for each job once.

    Like review leases, a claim is a row and nothing is changed: the claim in force on a job is
    its newest row, while its expires_at is ahead. A run renews its claims with new rows and
    gives them back with a row that expires at once; a killed run's claims run out (and on
    the same host, where its process can be seen to be gone, count for nothing at once).
    """
    run_script(
        db,
        """
        CREATE TABLE job_claims (
            rowid_      INTEGER PRIMARY KEY AUTOINCREMENT,
            job_key     TEXT NOT NULL,
            run_id      TEXT NOT NULL,
            host        TEXT NOT NULL,
            pid         INTEGER NOT NULL,
            claimed_at  TEXT NOT NULL,
            expires_at  TEXT NOT NULL
        );
        CREATE INDEX job_claims_job ON job_claims(job_key, rowid_);
        CREATE TRIGGER job_claims_no_update BEFORE UPDATE ON job_claims
            BEGIN SELECT RAISE(ABORT, 'job_claims rows are append-only'); END;
        CREATE TRIGGER job_claims_no_delete BEFORE DELETE ON job_claims
            BEGIN SELECT RAISE(ABORT, 'job_claims rows are append-only'); END;
        """,
    )


Migration = Callable[[sqlite3.Connection], None]

# Append only: a released migration is never edited, a change is a new function.
MIGRATIONS: list[tuple[str, Migration]] = [
    ("core", _m001_core),
    ("review_export_search", _m002_review_export_search),
    ("event_hashes_and_guards", _m003_event_hashes_and_guards),
    ("chunk_sections_and_ingest_roots", _m004_chunk_sections_and_ingest_roots),
    ("decision_sessions", _m005_decision_sessions),
    ("ai_addressed_text", _m006_ai_addressed_text),
    ("training_runs", _m007_training_runs),
    ("probe_runs", _m008_probe_runs),
    ("job_claims", _m009_job_claims),
]

SCHEMA_VERSION = len(MIGRATIONS)
# From this schema on, decisions record the review session that made them.
DECISION_SESSIONS_SCHEMA = 5
# From this schema on, ingest records doc sentences addressed to an AI assistant.
AI_ADDRESSED_SCHEMA = 6
# From this schema on, training runs are recorded (the position of the migration by its name).
TRAINING_RUNS_SCHEMA = [name for name, _ in MIGRATIONS].index("training_runs") + 1
# From this schema on, probe runs and their answers are stored.
PROBE_RUNS_SCHEMA = [name for name, _ in MIGRATIONS].index("probe_runs") + 1
# From this schema on, generate runs claim their jobs (``ledger.job_claims``).
JOB_CLAIMS_SCHEMA = [name for name, _ in MIGRATIONS].index("job_claims") + 1
