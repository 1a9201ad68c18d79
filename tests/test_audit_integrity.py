"""Audit integrity: an intact export passes; each kind of tampering fails and is named."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from audit.integrity import PROVENANCE_FIELDS
from draftgate.cli import main
from export.layout import data_file
from ledger import ChunkIn, Ledger, Verdict, verify
from ledger.chain import GENESIS_HASH, decision_entry_hash
from ledger.ids import text_hash
from tests.support.exports import Mixed, build_mixed, decide
from tests.support.tamper import RawLedger


@pytest.fixture
def exported(ledger: Ledger, tmp_path: Path) -> tuple[Mixed, Path]:
    mixed = build_mixed(ledger)
    out = tmp_path / "export"
    assert main(["--ledger", ledger.path, "export", "--out", str(out), "--seed", "5"]) == 0
    return mixed, out


def run_audit(ledger_path: str, out: Path, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    report = tmp_path / "audit.json"
    code = main(
        ["--ledger", ledger_path, "audit", "--export", str(out), "--format", "json",
         "--out", str(report), *extra]
    )  # fmt: skip
    return code, json.loads(report.read_text(encoding="utf-8"))


def break_kinds(audit: dict) -> set[str]:
    return {b["kind"] for b in audit["integrity"]["breaks"]}


def raw(ledger_path: str) -> RawLedger:
    """The ledger file opened as a tamperer would: plain sqlite3; each write runs with the
    guard triggers dropped and put back after it."""
    return RawLedger(Path(ledger_path))


def test_intact_export_passes_with_provenance(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed, out = exported
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 0, audit["integrity"]["breaks"]
    assert audit["draftgate_audit"] == 1
    assert audit["integrity"]["ok"] is True
    assert audit["integrity"]["exports_checked"] == 1
    assert audit["integrity"]["heads_checked"] == 2  # the ledger's record and the manifest
    assert audit["head"]["seq"] == ledger.head().seq
    rows = audit["provenance"]
    assert {r["draft_id"] for r in rows} == mixed.exported
    assert all(set(r) == set(PROVENANCE_FIELDS) for r in rows)
    edited = next(r for r in rows if r["draft_id"] in mixed.edited)
    assert edited["verdict"] == "edit" and edited["reviewer"] == "ann"
    assert edited["document"] in {"docs/guide.md", "docs/faq.md"}
    assert edited["start_line"] >= 1 and edited["end_line"] >= edited["start_line"]
    assert edited["model"] == "test-model" and edited["template_hash"] == "b2:template"
    assert (
        edited["generated_at"] and edited["decided_at"] and edited["chunk_hash"].startswith("b2:")
    )
    assert "integrity OK" in capsys.readouterr().out


def test_audit_without_export_flag_checks_the_newest_export(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    report = tmp_path / "a.json"
    code = main(["--ledger", ledger.path, "audit", "--format", "json", "--out", str(report)])
    assert code == 0
    assert json.loads(report.read_text())["integrity"]["exports_checked"] == 1


def _edit_first_line(path: Path, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[0]
    lines[0] = lines[0].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


def test_edited_line_fails(ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _, out = exported
    _edit_first_line(
        out / data_file("train", "jsonl"),
        '"assistant", "content": "',
        '"assistant", "content": "Not ',
    )
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert "record_edited" in break_kinds(audit)
    assert "BREAK record_edited: data/train-00000-of-00001.jsonl:1" in capsys.readouterr().out


def test_added_line_without_decision_fails(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    _, out = exported
    extra = {
        "messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    }
    # train.jsonl: draft ids are random, so eval may hold no record and then has no file.
    with open(out / data_file("train", "jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(extra) + "\n")
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert break_kinds(audit) == {"line_without_decision"}


def test_removed_line_fails(ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path) -> None:
    _, out = exported
    lines = (
        (out / data_file("train", "jsonl")).read_text(encoding="utf-8").splitlines(keepends=True)
    )
    (out / data_file("train", "jsonl")).write_text("".join(lines[:-1]), encoding="utf-8")
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert break_kinds(audit) == {"line_removed"}


def test_decision_row_edited_in_the_ledger_fails(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    mixed, out = exported
    edited_draft = next(iter(mixed.edited))
    db = raw(ledger.path)
    db.execute(
        "UPDATE decisions SET final_answer = 'Something else.' WHERE draft_id = ?"
        " AND verdict = 'edit'",
        (edited_draft,),
    )
    db.close()
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert {"decision_hash", "record_text_mismatch"} <= break_kinds(audit)


def test_decision_deleted_fails(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    mixed, out = exported
    db = raw(ledger.path)
    db.execute("DELETE FROM decisions WHERE draft_id = ?", (mixed.approved[0],))
    db.close()
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    kinds = break_kinds(audit)
    assert "chain_gap" in kinds or "chain_link" in kinds
    assert "record_unsigned" in kinds


def test_chain_rewritten_from_scratch_is_caught_by_the_export_head(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    """Someone with the file changes a reviewer and recomputes every hash after it: the chain
    is self-consistent again (verify passes) but no longer passes through the export's head."""
    _, out = exported
    db = raw(ledger.path)
    db.execute("UPDATE decisions SET reviewer = 'mallory' WHERE seq = 1")
    prev = GENESIS_HASH
    for row in db.execute("SELECT * FROM decisions ORDER BY seq").fetchall():
        fields = {**dict(row), "prev_hash": prev}
        fields["entry_hash"] = decision_entry_hash(fields)
        db.execute(
            "UPDATE decisions SET prev_hash = ?, entry_hash = ? WHERE seq = ?",
            (fields["prev_hash"], fields["entry_hash"], row["seq"]),
        )
        prev = fields["entry_hash"]
    db.close()
    reopened = Ledger.open(ledger.path)
    assert verify(reopened) == []  # the rewrite is self-consistent
    reopened.close()
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    heads = [b for b in audit["integrity"]["breaks"] if b["kind"] == "export_head"]
    assert len(heads) == 2  # both the ledger's record of the head and the manifest's
    assert "rewritten" in heads[0]["detail"]


def test_source_changed_after_generation_flags_stale(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    mixed, out = exported
    changed = ["## Billing\n\nInvoices moved to **Account > Invoices**.", "## Team\n\nSame."]
    chunks = [
        ChunkIn(heading_path=[t.splitlines()[0][3:]], start_line=1 + 4 * i, end_line=3 + 4 * i,
                text=t)
        for i, t in enumerate(changed)
    ]  # fmt: skip
    ledger.ingest_document("docs/guide.md", text_hash("changed"), "Guide", 80, chunks)
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert break_kinds(audit) == {"stale_in_export"}
    stale_exported = set(audit["integrity"]["stale_in_export"])
    guide_drafts = {r["draft_id"] for r in audit["provenance"] if r["document"] == "docs/guide.md"}
    assert stale_exported == guide_drafts and stale_exported
    assert stale_exported <= set(audit["integrity"]["stale_drafts"])
    assert not stale_exported & {r["draft_id"] for r in audit["provenance"]
                                 if r["document"] == "docs/faq.md"}  # fmt: skip


def test_a_record_in_two_exports_is_one_provenance_row_naming_both(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    mixed, out = exported
    second = tmp_path / "export-hf"
    assert main(["--ledger", ledger.path, "export", "--format", "hf", "--out", str(second),
                 "--seed", "5"]) == 0  # fmt: skip
    report = tmp_path / "audit.json"
    code = main(
        ["--ledger", ledger.path, "audit", "--export", str(out), "--export", str(second),
         "--format", "json", "--out", str(report)]
    )  # fmt: skip
    audit = json.loads(report.read_text(encoding="utf-8"))
    assert code == 0, audit["integrity"]["breaks"]
    rows = audit["provenance"]
    assert sorted(r["draft_id"] for r in rows) == sorted(mixed.exported)  # each once
    for row in rows:
        assert [e["format"] for e in row["exports"]] == ["openai", "hf"]
        assert {e["split"] for e in row["exports"]} <= {"train", "validation"}
        assert row["question"]
    edited = next(r for r in rows if r["draft_id"] in mixed.edited)
    with Ledger.open(ledger.path) as again:
        final = [d.final_question for d in again.iter_decisions() if d.draft_id in mixed.edited]
    assert edited["question"] in final  # the question as signed off


def test_stale_records_and_their_breaks_are_named(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    _, out = exported
    changed = ["## Billing\n\nInvoices moved.", "## Team\n\nSame."]
    chunks = [
        ChunkIn(heading_path=[t.splitlines()[0][3:]], start_line=1 + 4 * i, end_line=3 + 4 * i,
                text=t)
        for i, t in enumerate(changed)
    ]  # fmt: skip
    ledger.ingest_document("docs/guide.md", text_hash("changed"), "Guide", 80, chunks)
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    integrity = audit["integrity"]
    questions = {r["draft_id"]: r["question"] for r in audit["provenance"]}
    for draft_id in integrity["stale_in_export"]:
        named = integrity["records"][draft_id]
        assert named["question"] == questions[draft_id]
        assert named["kind"] and [e["format"] for e in named["exports"]] == ["openai"]
    stale_breaks = [b for b in integrity["breaks"] if b["kind"] == "stale_in_export"]
    assert stale_breaks and all(b["draft_id"] in integrity["records"] for b in stale_breaks)
    assert all(b["format"] == "openai" and b["export_id"] for b in stale_breaks)


def test_sign_off_reverted_after_export_fails(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    mixed, out = exported
    draft = mixed.approved[1]
    signed = ledger.decisions_for_draft(draft)[-1]
    decide(ledger, draft, Verdict.REVERT, reverts_decision_id=signed.id)
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert break_kinds(audit) == {"record_reverted"}


def test_manifest_edited_fails(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    _, out = exported
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["records"] = manifest["records"][1:]
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert {"manifest_changed", "manifest_record_mismatch", "line_without_decision"} <= (
        break_kinds(audit)
    )


def test_hf_parquet_edited_fails(ledger: Ledger, tmp_path: Path) -> None:
    build_mixed(ledger)
    out = tmp_path / "hf"
    assert main(["--ledger", ledger.path, "export", "--format", "hf", "--out", str(out)]) == 0
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 0, audit["integrity"]["breaks"]
    table = pq.read_table(out / data_file("train", "parquet"))
    answers = table.column("answer").to_pylist()
    answers[0] = "A different answer."
    index = table.schema.get_field_index("answer")
    pq.write_table(
        table.set_column(index, "answer", [answers]), out / data_file("train", "parquet")
    )
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert {b["ref"] for b in audit["integrity"]["breaks"]} == {
        "data/train-00000-of-00001.parquet:1"
    }


def test_hf_dataset_copy_edited_fails(ledger: Ledger, tmp_path: Path) -> None:
    """The dataset copy is compared with its parquet file as a whole table first; a copy that
    differs in one value is still read line by line and the line named."""
    import pyarrow as pa

    build_mixed(ledger)
    out = tmp_path / "hf"
    assert main(["--ledger", ledger.path, "export", "--format", "hf", "--out", str(out)]) == 0
    arrow = sorted((out / "dataset" / "train").glob("*.arrow"))[0]
    table = pa.ipc.open_stream(arrow.read_bytes()).read_all()  # not mapped: it is rewritten
    answers = table.column("answer").to_pylist()
    answers[1] = "A different answer."
    index = table.schema.get_field_index("answer")
    table = table.set_column(index, table.schema.field(index), pa.array(answers, pa.string()))
    with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert {b["ref"] for b in audit["integrity"]["breaks"]} == {"dataset/train:2"}
    assert break_kinds(audit) == {"record_edited"}


def test_audit_names_a_missing_export_folder(ledger: Ledger, tmp_path: Path) -> None:
    assert main(["--ledger", ledger.path, "audit", "--export", str(tmp_path / "nope")]) == 3


def test_sign_off_superseded_by_a_later_reject_fails(
    ledger: Ledger, exported: tuple[Mixed, Path], tmp_path: Path
) -> None:
    from ledger import RejectReason

    mixed, out = exported
    decide(ledger, mixed.approved[2], Verdict.REJECT, reason=RejectReason.OFF_STYLE)
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    assert break_kinds(audit) == {"record_superseded"}


def test_parallel_audit_matches_the_sequential_one(
    ledger: Ledger, exported: tuple[Mixed, Path]
) -> None:
    from audit import build_audit

    _, out = exported
    # A tampered decision too, so the breaks (not just an empty list) must agree.
    db = raw(ledger.path)
    db.execute("UPDATE decisions SET reviewer = 'mallory' WHERE seq = 1")
    db.close()
    options = {"fast_decision_ms": 2000, "target_mix": {"qa": 1.0}, "glossary_names": []}
    sequential = build_audit(ledger, [out], parallel=False, **options)
    parallel = build_audit(ledger, [out], parallel=True, **options)
    assert "decision_hash" in {b.kind for b in parallel.integrity.breaks}
    assert parallel.quality.totals.signed_off_examples > 0
    assert parallel.model_copy(update={"generated_at": ""}) == sequential.model_copy(
        update={"generated_at": ""}
    )


def test_provenance_rows_have_the_keys_of_the_typed_row() -> None:
    from audit.model import ProvenanceRow

    assert tuple(ProvenanceRow.__annotations__) == PROVENANCE_FIELDS
