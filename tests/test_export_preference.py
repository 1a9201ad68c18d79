"""Preference exports (dpo, openai-dpo, kto): exact line shapes, the sign-off rule, the
edit-distance filter, and the audit clean on an intact export and failing on a tampered one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from draftgate.cli import main
from export import ExportError, ExportOptions, export
from export.layout import data_file
from ledger import DecisionIn, DraftIn, DraftKind, Ledger, RejectReason, Verdict
from tests.support.builders import add_document, add_drafts
from tests.support.exports import decide

SYSTEM = "You are the product's support assistant."


class Built:
    def __init__(self) -> None:
        self.edited: dict[str, tuple[str, str, str]] = {}  # id -> (final q, final a, drafted a)
        self.probed: dict[str, tuple[str, str, str]] = {}  # id -> (q, signed a, model answer)
        self.approved: list[str] = []  # approved as drafted: no pair
        self.rejected: list[str] = []
        self.pending: list[str] = []
        self.nameless_edit = ""
        self.typo_fix = ""


def build(ledger: Ledger) -> Built:
    built = Built()
    chunk = add_document(ledger)[0]
    plain = add_drafts(ledger, chunk, count=6)
    drafts = {d: ledger.get_draft(d) for d in plain}
    for index, draft_id in enumerate(plain[:2]):
        final_q, final_a = f"How do I get invoice {index}?", f"Open Settings > Billing {index}."
        decide(ledger, draft_id, Verdict.EDIT, final_question=final_q, final_answer=final_a)
        drafted = drafts[draft_id]
        assert drafted is not None
        built.edited[draft_id] = (final_q, final_a, drafted.answer)
    decide(ledger, plain[2], Verdict.APPROVE)
    built.approved.append(plain[2])
    decide(ledger, plain[3], Verdict.REJECT, reason=RejectReason.WRONG_FACTS)
    built.rejected.append(plain[3])
    built.pending.append(plain[4])
    # An edit that fixes one character: its pair barely differs.
    drafted = drafts[plain[5]]
    assert drafted is not None
    decide(
        ledger,
        plain[5],
        Verdict.EDIT,
        final_question=drafted.question,
        final_answer=drafted.answer.replace("Open", "open"),
    )
    built.typo_fix = plain[5]
    probe = DraftIn(
        kind=DraftKind.NEGATIVE,
        question="Can I pay by cheque?",
        answer="No, cheques are not accepted; pay by card under Settings > Billing.",
        meta={"probe": {"run_id": "r1", "model": "tuned", "model_answer": "Yes, mail a cheque.",
                        "reasons": ["claims the feature"], "reference_draft_id": None}},
    )  # fmt: skip
    [probe_id] = add_drafts(ledger, chunk, [probe])
    decide(ledger, probe_id, Verdict.APPROVE)
    built.probed[probe_id] = (probe.question, probe.answer, "Yes, mail a cheque.")
    # A pending probe draft and a rejected one: no pair leaves from either.
    unsigned = DraftIn(
        kind=DraftKind.QA,
        question="Where are invoices?",
        answer="Under Settings > Billing > Invoices.",
        meta={"probe": {"model_answer": "On the Dashboard."}},
    )
    [unsigned_id] = add_drafts(ledger, chunk, [unsigned])
    built.pending.append(unsigned_id)
    return built


def lines_by_draft(out: Path) -> dict[str, dict]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = {
        split: (out / data_file(split, "jsonl")).read_text(encoding="utf-8").splitlines()
        for split in ("train", "validation")
        if (out / data_file(split, "jsonl")).exists()
    }
    return {r["draft_id"]: json.loads(files[r["split"]][r["line"]]) for r in manifest["records"]}


def test_dpo_lines_are_trl_conversational_pairs_of_signed_text(
    ledger: Ledger, tmp_path: Path
) -> None:
    built = build(ledger)
    out = tmp_path / "dpo"
    result = export(
        ledger, ExportOptions(format="dpo", out_dir=out, eval_fraction=0.0, system_prompt=SYSTEM)
    )
    lines = lines_by_draft(out)
    assert set(lines) == {*built.edited, *built.probed}
    for draft_id, (final_q, final_a, drafted_a) in built.edited.items():
        assert lines[draft_id] == {
            "prompt": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": final_q},
            ],
            "chosen": [{"role": "assistant", "content": final_a}],
            "rejected": [{"role": "assistant", "content": drafted_a}],
        }
    for draft_id, (question, signed, model_answer) in built.probed.items():
        assert lines[draft_id]["prompt"][1] == {"role": "user", "content": question}
        assert lines[draft_id]["chosen"] == [{"role": "assistant", "content": signed}]
        assert lines[draft_id]["rejected"] == [{"role": "assistant", "content": model_answer}]
    assert result.preference is not None
    assert result.preference["records_by_source"] == {"edit": 2, "probe": 1}
    assert result.preference["left_out_close"] == 1  # the one-character fix
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["preference"]["left_out_close"] == 1
    assert manifest["preference"]["min_edit_distance"] == 0.05


def test_min_edit_distance_zero_keeps_the_close_pair(ledger: Ledger, tmp_path: Path) -> None:
    built = build(ledger)
    out = tmp_path / "dpo"
    export(ledger, ExportOptions(format="dpo", out_dir=out, min_edit_distance=0.0))
    assert built.typo_fix in lines_by_draft(out)
    with pytest.raises(ExportError, match="min-edit-distance"):
        export(ledger, ExportOptions(format="dpo", out_dir=tmp_path / "x", min_edit_distance=2))


def test_openai_dpo_lines_have_the_preference_fine_tuning_shape(
    ledger: Ledger, tmp_path: Path
) -> None:
    built = build(ledger)
    out = tmp_path / "oa"
    export(ledger, ExportOptions(format="openai-dpo", out_dir=out, eval_fraction=0.0))
    lines = lines_by_draft(out)
    draft_id, (final_q, final_a, drafted_a) = next(iter(built.edited.items()))
    assert lines[draft_id] == {
        "input": {"messages": [{"role": "user", "content": final_q}]},
        "preferred_output": [{"role": "assistant", "content": final_a}],
        "non_preferred_output": [{"role": "assistant", "content": drafted_a}],
    }


def test_kto_labels_sign_offs_true_and_rejections_false(ledger: Ledger, tmp_path: Path) -> None:
    built = build(ledger)
    out = tmp_path / "kto"
    export(ledger, ExportOptions(format="kto", out_dir=out, eval_fraction=0.0))
    lines = lines_by_draft(out)
    signed = {*built.edited, *built.probed, *built.approved, built.typo_fix}
    assert set(lines) == signed | set(built.rejected)
    for draft_id in signed:
        assert lines[draft_id]["label"] is True
    [rejected] = built.rejected
    draft = ledger.get_draft(rejected)
    assert draft is not None
    assert lines[rejected] == {
        "prompt": [{"role": "user", "content": draft.question}],
        "completion": [{"role": "assistant", "content": draft.answer}],
        "label": False,
    }
    final_q, final_a, _ = built.edited[next(iter(built.edited))]
    assert lines[next(iter(built.edited))]["completion"][0]["content"] == final_a
    assert not set(built.pending) & set(lines)


def test_an_unsigned_chosen_side_never_leaves(ledger: Ledger, tmp_path: Path) -> None:
    """A reverted edit and a pending probe draft make no pair; a live edit does."""
    chunk = add_document(ledger)[0]
    first, second = add_drafts(ledger, chunk, count=2)
    edit = ledger.record_decision(
        DecisionIn(draft_id=first, reviewer="ann", verdict=Verdict.EDIT,
                   final_question="Q one?", final_answer="A rewritten answer one.")
    )  # fmt: skip
    decide(ledger, first, Verdict.REVERT, reverts_decision_id=edit.id)
    probe = DraftIn(
        kind=DraftKind.QA, question="Q?", answer="Signed?", meta={"probe": {"model_answer": "x"}}
    )
    add_drafts(ledger, chunk, [probe])
    with pytest.raises(ExportError, match="makes a preference record"):
        export(ledger, ExportOptions(format="dpo", out_dir=tmp_path / "none"))
    decide(ledger, second, Verdict.EDIT, final_question="Q two?", final_answer="Rewritten two.")
    out = tmp_path / "one"
    export(ledger, ExportOptions(format="dpo", out_dir=out))
    assert set(lines_by_draft(out)) == {second}


def run_audit(ledger_path: str, out: Path, tmp_path: Path) -> tuple[int, dict]:
    report = tmp_path / "audit.json"
    code = main(
        ["--ledger", ledger_path, "audit", "--export", str(out), "--format", "json",
         "--out", str(report)]
    )  # fmt: skip
    return code, json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", ["dpo", "openai-dpo", "kto"])
def test_audit_is_clean_on_a_preference_export_and_fails_when_tampered(
    ledger: Ledger, tmp_path: Path, fmt: str
) -> None:
    build(ledger)
    out = tmp_path / fmt
    code = main(
        ["--ledger", ledger.path, "export", "--format", fmt, "--out", str(out),
         "--eval-fraction", "0", "--system-prompt", SYSTEM]
    )  # fmt: skip
    assert code == 0
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 0, audit["integrity"]["breaks"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == fmt and manifest["records"]
    assert {r["draft_id"] for r in audit["provenance"]} == {
        r["draft_id"] for r in manifest["records"]
    }
    # Swap the two sides of the first line: the chosen side is no longer the signed text.
    path = out / data_file("train", "jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[0])
    if fmt == "dpo":
        line["chosen"], line["rejected"] = line["rejected"], line["chosen"]
    elif fmt == "openai-dpo":
        line["preferred_output"], line["non_preferred_output"] = (
            line["non_preferred_output"],
            line["preferred_output"],
        )
    else:
        line["label"] = not line["label"]
    lines[0] = json.dumps(line, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    kinds = {b["kind"] for b in audit["integrity"]["breaks"]}
    assert "record_edited" in kinds


def test_audit_fails_when_a_rejected_side_is_rewritten_in_manifest_and_file(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Rehashing a forged line into the manifest still fails: the ledger's record of the
    export and the ledger's own decision both disagree with it."""
    from export.records import content_of_line, record_hash

    build(ledger)
    out = tmp_path / "dpo"
    export(ledger, ExportOptions(format="dpo", out_dir=out, eval_fraction=0.0))
    path = out / data_file("train", "jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[0])
    line["chosen"] = [{"role": "assistant", "content": "Something nobody signed off."}]
    lines[0] = json.dumps(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entry = next(r for r in manifest["records"] if r["split"] == "train" and r["line"] == 0)
    entry["record_hash"] = record_hash(content_of_line("dpo", line, entry["kind"]))
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, audit = run_audit(ledger.path, out, tmp_path)
    assert code == 1
    kinds = {b["kind"] for b in audit["integrity"]["breaks"]}
    assert {"record_text_mismatch", "manifest_changed"} <= kinds


def test_preference_export_is_recorded_with_its_record_hashes(
    ledger: Ledger, tmp_path: Path
) -> None:
    build(ledger)
    out = tmp_path / "kto"
    result = export(ledger, ExportOptions(format="kto", out_dir=out))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    recorded = ledger.query(
        "SELECT draft_id, record_hash, decision_id, split FROM export_records WHERE export_id = ?",
        (result.export_id,),
    )
    assert {tuple(r) for r in recorded} == {
        (r["draft_id"], r["record_hash"], r["decision_id"], r["split"]) for r in manifest["records"]
    }
    # A false line is recorded with the reject decision that made it.
    reject_decisions = {
        r[0] for r in ledger.query("SELECT id FROM decisions WHERE verdict = 'reject'")
    }
    assert reject_decisions & {r["decision_id"] for r in manifest["records"]}


@pytest.mark.parametrize(
    ("fmt", "columns"),
    [
        ("dpo", {"prompt", "chosen", "rejected"}),
        ("openai-dpo", {"input", "preferred_output", "non_preferred_output"}),
        ("kto", {"prompt", "completion", "label"}),
    ],
)
def test_the_files_load_as_hugging_face_datasets(
    ledger: Ledger, tmp_path: Path, fmt: str, columns: set[str]
) -> None:
    """What a TRL or OpenAI user runs first: ``load_dataset("json", ...)`` on the files."""
    from datasets import load_dataset

    build(ledger)
    out = tmp_path / fmt
    export(ledger, ExportOptions(format=fmt, out_dir=out, eval_fraction=0.0))
    dataset = load_dataset(
        "json",
        data_files={"train": str(out / data_file("train", "jsonl"))},
        cache_dir=str(tmp_path / "c"),
    )["train"]
    assert set(dataset.column_names) == columns
    first = dataset[0]
    if fmt == "kto":
        assert isinstance(first["label"], bool)
        assert first["completion"][0]["role"] == "assistant"
    elif fmt == "dpo":
        assert first["prompt"][-1]["role"] == "user"
        assert first["chosen"][0]["role"] == first["rejected"][0]["role"] == "assistant"
    else:
        assert first["input"]["messages"][-1]["role"] == "user"
