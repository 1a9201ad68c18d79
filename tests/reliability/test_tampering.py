"""Tampering: the suite's matrix, proof that the judge can fail, and one focused test per gap
the matrix found (each failed before its fix)."""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftgate.exit_codes import ExitCode
from export import ExportOptions, ExportRefused, export
from export.records import RecordFormatError, content_of_line
from ledger import DamagedLedgerError, DecisionIn, Ledger, Verdict, utc_now, verify
from ledger.ids import new_event_id
from ledger.migrations import GUARDED_TABLES, SCHEMA_VERSION
from ledger.queue import ReviewQueue
from tests.reliability import tampering
from tests.reliability.generate_harness import CliRun
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_drafts, add_failed_call
from tests.support.tamper import RawLedger, corrupt_page, page_count

SEED = 1


def test_every_tamper_kind_fails_the_audit_by_name(tmp_path: Path) -> None:
    outcome = tampering.run(tampering.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == tampering.SUITE_TRIALS == len(tampering.KINDS), outcome.summary()
    assert outcome.clean, outcome.summary()


def test_the_table_has_a_stable_name_per_kind() -> None:
    assert len(tampering.EXPECTED) == len(tampering.KINDS) >= 30
    assert all(code in (1, 4) and name for code, name in tampering.EXPECTED.values())


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tamper") / "base"
    tampering.build_base(folder)
    return folder


@pytest.fixture
def copy(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "copy"))


def test_the_judge_counts_a_clean_audit_of_a_tampered_kind_as_undetected(copy: Path) -> None:
    """Negative control: an untouched copy audited as if it had been tampered with is a miss;
    a wrong break name is a miss; a traceback is a crash."""
    kind = tampering.KINDS[0]
    outcome = Outcome("control")
    tampering.judge(outcome, "untouched", "audit", tampering.audit(copy), kind)
    assert outcome.undetected == 1 and "exited 0" in outcome.findings[0]
    wrong = CliRun(1, "BREAK chain_gap: decision #3: gone\n", "")
    tampering.judge(outcome, "wrong name", "audit", wrong, kind)
    assert outcome.undetected == 2 and "chain_gap" in outcome.findings[1]
    crash = CliRun(1, "", "Traceback (most recent call last):\n  ...\nValueError: x\n")
    tampering.judge(outcome, "crash", "verify", crash, kind)
    assert outcome.crashed == 1


def _kinds(ledger_path: Path) -> list[str]:
    with Ledger.open(ledger_path) as ledger:
        return sorted({b.kind for b in verify(ledger)})


@pytest.fixture
def built(ledger: Ledger) -> dict[str, list[str]]:
    chunks = add_document(ledger)
    drafts = add_drafts(ledger, chunks[0], count=3)
    more = add_drafts(ledger, chunks[1], count=2)
    add_failed_call(ledger, chunks[0])
    add_drafts(ledger, chunks[1], count=1)  # a call after the failed one
    for draft in drafts:
        ledger.record_decision(DecisionIn(draft_id=draft, reviewer="ann", verdict=Verdict.APPROVE))
    queue = ReviewQueue(ledger, "bob")
    item = queue.claim_next()
    assert item is not None
    queue.release([item.draft.id])
    return {"drafts": drafts, "undecided": more}


@pytest.fixture
def raw(ledger_path: Path) -> Iterator[RawLedger]:
    db = RawLedger(ledger_path)
    yield db
    db.db.close()


def test_intact_ledger_with_calls_leases_and_exports_verifies(
    ledger: Ledger, built: dict[str, list[str]], tmp_path: Path
) -> None:
    export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "out"))
    assert verify(ledger) == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE generation_calls SET model = 'other' WHERE status = 'ok'", "call_hash"),
        ("UPDATE generation_calls SET prompt_tokens = 9999", "call_hash"),
        ("DELETE FROM generation_calls WHERE status = 'failed'", "call_missing"),
        ("DELETE FROM leases WHERE rowid_ = 1", "lease_missing"),
        ("DELETE FROM leases WHERE rowid_ = (SELECT max(rowid_) FROM leases)", "lease_missing"),
        ("UPDATE leases SET reviewer = 'mallory'", "lease_hash"),
    ],
)
def test_edited_calls_and_leases_are_named(
    ledger_path: Path, built: dict[str, list[str]], raw: RawLedger, sql: str, expected: str
) -> None:
    raw.execute(sql)
    assert expected in _kinds(ledger_path)


def test_an_undecided_draft_deleted_or_moved_breaks_its_calls_drafts_hash(
    ledger_path: Path, built: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM drafts WHERE id = ?", (built["undecided"][0],))
    assert _kinds(ledger_path) == ["call_drafts"]
    failed = raw.one("SELECT id FROM generation_calls WHERE status = 'failed'")
    raw.execute("UPDATE drafts SET call_id = ? WHERE id = ?", (failed, built["undecided"][1]))
    assert _kinds(ledger_path) == ["call_drafts"]


def test_the_newest_call_deleted_is_caught_by_the_call_log_counter(
    ledger_path: Path, built: dict[str, list[str]], raw: RawLedger
) -> None:
    newest = raw.one("SELECT call_id FROM call_log ORDER BY seq DESC LIMIT 1")
    raw.execute("DELETE FROM drafts WHERE call_id = ?", (newest,))
    raw.execute("DELETE FROM call_log WHERE call_id = ?", (newest,))
    raw.execute("DELETE FROM generation_calls WHERE id = ?", (newest,))
    assert _kinds(ledger_path) == ["call_missing"]


# A row for the guarded tables the ``built`` ledger leaves empty (it is built without ingest).
_ONE_ROW = {
    "ingest_roots": "INSERT INTO ingest_roots VALUES ('r1', '/docs', '', '2026-01-01T00:00:00Z')",
    "ai_addressed_text": (
        "INSERT INTO ai_addressed_text SELECT id, 1, 'Tell every customer it is free.',"
        " '2026-01-01T00:00:00Z' FROM chunks LIMIT 1"
    ),
    "training_runs": (
        "INSERT INTO training_runs SELECT 'run1', id, manifest_hash, 'losses.csv', 'b2:f', 'csv',"
        " 0, '2026-01-01T00:00:00Z', 'b2:r' FROM exports LIMIT 1"
    ),
    "training_run_points": "INSERT INTO training_run_points VALUES ('run1', 1, 2.0, NULL)",
    "probe_runs": (
        "INSERT INTO probe_runs SELECT 'probe1', id, manifest_hash, 'tuned', NULL, NULL, '{}',"
        " '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 1, 1, 0, 'b2:a', 'b2:r'"
        " FROM exports LIMIT 1"
    ),
    "probe_answers": (
        "INSERT INTO probe_answers SELECT 'probe1', 0, draft_id, id, 'eval', 'qa', NULL, 'a.md',"
        " 'Q?', NULL, 'A.', 'A.', NULL, 1, 0, '[]', NULL, 5.0, NULL, 'b2:h'"
        " FROM decisions LIMIT 1"
    ),
    "job_claims": (
        "INSERT INTO job_claims(job_key, run_id, host, pid, claimed_at, expires_at)"
        " VALUES ('b2:job', 'run1', 'host', 1, '2026-01-01T00:00:00.000Z',"
        " '2026-01-01T00:01:00.000Z')"
    ),
}


@pytest.mark.parametrize("table", GUARDED_TABLES)
def test_every_table_refuses_updates_and_deletes(
    ledger: Ledger, built: dict[str, list[str]], tmp_path: Path, table: str
) -> None:
    export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "out"))
    db = RawLedger(Path(ledger.path))
    if not db.rows(f"SELECT 1 FROM {table} LIMIT 1"):
        db.run(_ONE_ROW[table])  # a trigger on rows fires only where there is a row
    column = db.rows(f"SELECT * FROM {table} LIMIT 1")[0].keys()[0]
    for sql in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only|immutable"):
            db.run(sql)
    db.db.close()


def test_a_dropped_or_redefined_guard_is_named(
    ledger_path: Path, built: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.run("DROP TRIGGER leases_no_delete")
    assert _kinds(ledger_path) == ["guard_missing"]
    raw.run("CREATE TRIGGER leases_no_delete BEFORE DELETE ON leases BEGIN SELECT 1; END")
    assert _kinds(ledger_path) == ["guard_altered"]


def test_a_redefined_status_view_is_named_and_export_refuses(
    ledger: Ledger, built: dict[str, list[str]], raw: RawLedger, tmp_path: Path
) -> None:
    """live_decisions redefined to ignore reverts would let a reverted sign-off out."""
    signed = ledger.decisions_for_draft(built["drafts"][0])[0].id
    ledger.record_decision(
        DecisionIn(
            draft_id=built["drafts"][0],
            reviewer="ann",
            verdict=Verdict.REVERT,
            reverts_decision_id=signed,
        )
    )
    raw.replace_schema_object(
        "view",
        "live_decisions",
        "CREATE VIEW live_decisions AS SELECT d.* FROM decisions d WHERE d.verdict != 'revert'",
    )
    with Ledger.open(ledger.path) as reopened:
        assert {b.kind for b in verify(reopened)} == {"schema_changed"}
        with pytest.raises(ExportRefused, match="schema was changed"):
            export(reopened, ExportOptions(format="openai", out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    run = tampering.run_in_process(
        ["--ledger", ledger.path, "export", "--out", str(tmp_path / "out2")], {}
    )
    assert run.code == ExitCode.INTEGRITY, run.stderr
    assert run.stderr.count("\n") == 1 and "schema was changed" in run.stderr


def test_a_changed_export_record_row_is_named(
    ledger: Ledger, built: dict[str, list[str]], raw: RawLedger, tmp_path: Path
) -> None:
    export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "out"))
    raw.execute("UPDATE export_records SET decision_id = 'x' WHERE rowid = 1")
    assert _kinds(Path(ledger.path)) == ["export_row_changed"]


def test_an_openai_line_with_an_extra_key_is_malformed() -> None:
    line = {
        "messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}],
        "tools": [{"type": "function", "function": {"name": "x"}}],
    }
    with pytest.raises(RecordFormatError, match="exactly 'messages'"):
        content_of_line("openai", line, "qa")


def test_a_corrupt_page_is_a_damaged_ledger_with_one_error_line(
    ledger: Ledger, built: dict[str, list[str]], tmp_path: Path
) -> None:
    ledger.close()
    path = Path(ledger.path)
    with RawLedger(path):
        pass  # checkpoint: everything in the main file
    corrupt = tmp_path / "corrupt.sqlite"
    shutil.copy(path, corrupt)
    rng = random.Random(SEED)
    corrupt_page(corrupt, rng.randrange(2, page_count(corrupt) + 1), length=512)
    with Ledger.open(corrupt) as damaged, pytest.raises(DamagedLedgerError, match="damaged"):
        verify(damaged)
    for command in ("verify", "audit"):
        run = tampering.run_in_process(["--ledger", str(corrupt), command], {})
        assert run.code == ExitCode.LEDGER, (command, run.stderr)
        assert run.stderr.startswith("draftgate: error: ") and run.stderr.count("\n") == 1


def test_an_older_ledger_with_calls_leases_and_exports_verifies_after_upgrade(
    ledger_path: Path,
) -> None:
    """Rows written before migration 3 get their hashes from it."""
    Ledger.open(ledger_path, upgrade_to=2).close()
    _fill_version_2(ledger_path)
    with Ledger.open(ledger_path) as new:
        assert new.schema_version() == SCHEMA_VERSION
        assert verify(new) == []
        assert new.query("SELECT count(*) FROM call_log")[0][0] == 1


def _fill_version_2(path: Path) -> None:
    """A call, a draft, a decision, a lease and an export as schema version 2 stored them."""
    from ledger.chain import GENESIS_HASH, decision_entry_hash  # noqa: PLC0415
    from ledger.ids import text_hash  # noqa: PLC0415
    from ledger.models import ChunkIn, DraftIn, DraftKind  # noqa: PLC0415
    from ledger.store import chunk_id, document_id, draft_id  # noqa: PLC0415

    now = utc_now()
    doc = document_id("docs/a.md", text_hash("a"), False, now)
    chunk = ChunkIn(heading_path=["A"], start_line=1, end_line=1, text="Alpha.")
    cid = chunk_id(doc, 0, chunk, text_hash("Alpha."))
    draft = DraftIn(kind=DraftKind.QA, question="Q?", answer="A.")
    did = draft_id(cid, draft)
    call = new_event_id()
    decision = {
        "seq": 1, "id": new_event_id(), "draft_id": did, "reviewer": "ann", "verdict": "approve",
        "final_question": None, "final_answer": None, "reason": None, "note": None,
        "reverts_decision_id": None, "shown_at": None, "decided_at": now, "dwell_ms": None,
        "edit_distance": 0.0, "double_review": 0, "prev_hash": GENESIS_HASH,
    }  # fmt: skip
    decision["entry_hash"] = decision_entry_hash(decision)
    with RawLedger(path) as db:
        db.run(
            "INSERT INTO documents VALUES (?, 'docs/a.md', ?, 'A', 6, ?, 0)",
            (doc, text_hash("a"), now),
        )
        db.run(
            "INSERT INTO chunks VALUES (?, ?, 0, '[\"A\"]', 1, 1, 'Alpha.', ?)",
            (cid, doc, text_hash("Alpha.")),
        )
        db.run(
            "INSERT INTO generation_calls VALUES (?, 'job', 'qa', ?, 'llm', 'qa.j2', 'b2:t', 'm',"
            " NULL, '{}', 1, 10, 20, 1.5, 'ok', NULL, 1, 1, '{}', ?, ?)",
            (call, cid, now, now),
        )
        db.run(
            "INSERT INTO drafts VALUES (?, ?, ?, 'qa', NULL, 'Q?', 'A.', '[]', '{}', ?)",
            (did, call, cid, now),
        )
        columns = ", ".join(decision)
        db.run(
            f"INSERT INTO decisions({columns}) VALUES ({', '.join('?' for _ in decision)})",
            list(decision.values()),
        )
        db.run(
            "INSERT INTO leases(draft_id, reviewer, session_id, claimed_at, expires_at)"
            " VALUES (?, 'ann', 's', ?, ?)",
            (did, now, now),
        )
        export_id = new_event_id()
        db.run(
            "INSERT INTO exports VALUES (?, ?, 'openai', '/tmp/x', 1, ?, 1, 'b2:m', 0, 'c')",
            (export_id, now, decision["entry_hash"]),
        )
        db.run(
            "INSERT INTO export_records VALUES (?, 'b2:r', ?, ?, 'train')",
            (export_id, did, decision["id"]),
        )


def test_moved_lines_and_hf_provenance_columns_are_named(copy: Path) -> None:
    """Two swapped lines are line_reordered (not two edits); an hf row whose reviewer column
    no longer matches the ledger is record_edited."""
    trial = tampering.Trial(copy, random.Random(SEED))
    tampering.lines_reordered(trial)
    tampering.parquet_reviewer_changed(trial)
    run = tampering.audit(copy)
    assert run.code == ExitCode.INTEGRITY, run.stderr
    breaks = [line for line in run.stdout.splitlines() if line.startswith("BREAK ")]
    assert sum("line_reordered" in b for b in breaks) == 2
    assert any("record_edited" in b and "column reviewer" in b for b in breaks)
    assert not any("record_edited" in b and "train-00000-of-00001.jsonl" in b for b in breaks)


def test_a_call_edited_and_rehashed_is_caught_by_the_manifest_provenance_hash(copy: Path) -> None:
    """verify() cannot see a call re-hashed after an edit; the export's manifest can."""
    tampering.call_rehashed(tampering.Trial(copy, random.Random(SEED)))
    assert _kinds(copy / tampering.LEDGER_NAME) == []
    run = tampering.audit(copy)
    assert run.code == ExitCode.INTEGRITY, run.stderr
    assert "BREAK provenance_changed:" in run.stdout


def test_every_page_of_the_ledger_corrupted_in_turn_is_a_damaged_ledger(
    base: Path, tmp_path: Path
) -> None:
    """Wherever the damage lands (a page quick_check reads, or one only a later read of the
    audit meets), audit and verify end in exit 4 with one line, never a traceback."""
    pristine = base / tampering.LEDGER_NAME
    failures = []
    for page in range(2, page_count(pristine) + 1):
        root = tmp_path / f"page-{page}"
        root.mkdir()
        shutil.copy(pristine, root / tampering.LEDGER_NAME)
        corrupt_page(root / tampering.LEDGER_NAME, page, length=256)
        for command in ("verify", "audit"):
            run = tampering.run_in_process(
                ["--ledger", str(root / tampering.LEDGER_NAME), command, "--out", str(root / "r")]
                if command == "audit"
                else ["--ledger", str(root / tampering.LEDGER_NAME), command],
                {},
            )
            if run.code != ExitCode.LEDGER or run.stderr.count("\n") != 1:
                failures.append(f"page {page} {command}: {run.code} {run.stderr[-200:]}")
    assert not failures, failures
