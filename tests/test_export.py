"""Export: only signed-off drafts leave, with final text for edits; split; balance; manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from draftgate.cli import main
from export import MANIFEST_NAME, ExportError, ExportOptions, export, parse_balance
from export.layout import data_file
from export.recipes import RECIPE_FILES
from export.records import record_content, record_hash
from export.selection import caps_for, min_stratum_for_eval, position
from ledger import DraftKind, Ledger
from tests.support.builders import add_document, add_drafts
from tests.support.exports import approve_all, build_mixed


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def manifest_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_export_holds_exactly_the_signed_off_drafts(ledger: Ledger, tmp_path: Path) -> None:
    mixed = build_mixed(ledger)
    out = tmp_path / "out"
    result = export(ledger, ExportOptions(format="openai", out_dir=out, eval_fraction=0.2))
    manifest = manifest_of(out)
    exported = {r["draft_id"] for r in manifest["records"]}
    assert exported == mixed.exported
    assert result.record_count == len(mixed.exported)
    for excluded in [*mixed.rejected, *mixed.pending, *mixed.reverted]:
        assert excluded not in exported
    lines = {
        (split, i): line
        for split in ("train", "validation")
        for i, line in enumerate(read_jsonl(out / data_file(split, "jsonl")))
    }
    assert len(lines) == len(mixed.exported)
    by_draft = {r["draft_id"]: lines[(r["split"], r["line"])] for r in manifest["records"]}
    for draft_id, (question, answer) in mixed.edited.items():
        messages = by_draft[draft_id]["messages"]
        assert messages[0] == {"role": "user", "content": question}
        assert messages[1] == {"role": "assistant", "content": answer}
    # Approve, then an edit that was reverted: the approved original text leaves.
    original = ledger.get_draft(mixed.back_to_approve[0])
    assert original is not None
    assert by_draft[original.id]["messages"][1]["content"] == original.answer


def test_manifest_counts_hashes_head_and_ledger_record(ledger: Ledger, tmp_path: Path) -> None:
    mixed = build_mixed(ledger)
    out = tmp_path / "out"
    export(
        ledger,
        ExportOptions(format="sharegpt", out_dir=out, seed=7, system_prompt="Be brief."),
    )
    manifest = manifest_of(out)
    head = ledger.head()
    assert manifest["ledger"]["head_seq"] == head.seq
    assert manifest["ledger"]["head_hash"] == head.hash
    assert manifest["seed"] == 7 and manifest["format"] == "sharegpt"
    assert manifest["command"]
    counted = {split: sum(by_kind.values()) for split, by_kind in manifest["counts"].items()}
    for split in ("train", "validation"):
        # Draft ids are random, so eval can come out empty: then it has no file at all.
        path = out / data_file(split, "jsonl")
        assert counted[split] == (len(read_jsonl(path)) if path.exists() else 0)
        assert path.exists() == (counted[split] > 0)
    kinds = {k for by_kind in manifest["counts"].values() for k in by_kind}
    assert kinds == {"qa", "negative"}
    assert manifest["record_count"] == len(mixed.exported)
    for record in manifest["records"]:
        line = read_jsonl(out / data_file(record["split"], "jsonl"))[record["line"]]
        turns = {t["from"]: t["value"] for t in line["conversations"]}
        content = record_content(turns["human"], turns["gpt"], "Be brief.", record["kind"])
        assert record_hash(content) == record["record_hash"]
    rows = ledger.query("SELECT * FROM exports")
    assert len(rows) == 1 and rows[0]["record_count"] == len(mixed.exported)
    assert rows[0]["head_hash"] == head.hash
    recorded = ledger.query("SELECT count(*) FROM export_records")[0][0]
    assert recorded == len(mixed.exported)


def _strata_ledger(ledger: Ledger, sizes: dict[tuple[str, str], int]) -> dict[str, tuple]:
    """Approved drafts per (document, kind) stratum; returns draft id -> stratum."""
    strata: dict[str, tuple] = {}
    chunks: dict[str, str] = {}
    for (doc, kind), count in sizes.items():
        if doc not in chunks:
            chunks[doc] = add_document(ledger, doc)[0]
        ids = add_drafts(ledger, chunks[doc], kind=DraftKind(kind), count=count)
        approve_all(ledger, ids)
        strata.update(dict.fromkeys(ids, (doc, kind)))
    return strata


def _splits(out: Path) -> dict[str, str]:
    return {r["draft_id"]: r["split"] for r in manifest_of(out)["records"]}


def test_split_is_deterministic_and_stratified(ledger: Ledger, tmp_path: Path) -> None:
    sizes = {
        ("a.md", "qa"): 40,
        ("a.md", "negative"): 12,
        ("b.md", "qa"): 10,
        ("b.md", "clarify"): 3,
    }
    strata = _strata_ledger(ledger, sizes)
    first, second = tmp_path / "one", tmp_path / "two"
    export(ledger, ExportOptions(format="openai", out_dir=first, eval_fraction=0.1, seed=3))
    export(ledger, ExportOptions(format="openai", out_dir=second, eval_fraction=0.1, seed=3))
    assert (first / data_file("train", "jsonl")).read_bytes() == (
        second / data_file("train", "jsonl")
    ).read_bytes()
    assert (first / data_file("validation", "jsonl")).read_bytes() == (
        second / data_file("validation", "jsonl")
    ).read_bytes()
    splits = _splits(first)
    threshold = int(0.1 * 2**64)
    need = min_stratum_for_eval(0.1)
    assert need == 10
    for stratum, size in sizes.items():
        members = [d for d, s in strata.items() if s == stratum]
        evals = [d for d in members if splits[d] == "validation"]
        if size >= need:
            assert evals, f"stratum {stratum} of {size} has no eval record"
            assert len(evals) < size
        else:
            # Too small to expect an eval record: only the hash threshold decides.
            assert evals == [d for d in members if position(3, "split", d) < threshold]
    other = tmp_path / "seed4"
    export(ledger, ExportOptions(format="openai", out_dir=other, eval_fraction=0.1, seed=4))
    assert _splits(other) != splits


def test_split_is_stable_when_unrelated_drafts_are_added(ledger: Ledger, tmp_path: Path) -> None:
    _strata_ledger(ledger, {("a.md", "qa"): 60, ("b.md", "negative"): 30})
    before = tmp_path / "before"
    export(ledger, ExportOptions(format="openai", out_dir=before, eval_fraction=0.2, seed=1))
    _strata_ledger(ledger, {("c.md", "qa"): 50, ("d.md", "clarify"): 20})
    after = tmp_path / "after"
    export(ledger, ExportOptions(format="openai", out_dir=after, eval_fraction=0.2, seed=1))
    old, new = _splits(before), _splits(after)
    assert len(new) == len(old) + 70
    assert {d: new[d] for d in old} == old


def test_kinds_filter_and_balance_caps(ledger: Ledger, tmp_path: Path) -> None:
    _strata_ledger(ledger, {("a.md", "qa"): 30, ("a.md", "negative"): 12, ("a.md", "clarify"): 5})
    only = tmp_path / "only"
    export(ledger, ExportOptions(format="alpaca", out_dir=only, kinds=("negative",)))
    assert {r["kind"] for r in manifest_of(only)["records"]} == {"negative"}

    capped, again = tmp_path / "capped", tmp_path / "again"
    balance = parse_balance("qa=10,negative=4")
    for out in (capped, again):
        export(ledger, ExportOptions(format="alpaca", out_dir=out, balance=balance))
    counts: dict[str, int] = {}
    for record in manifest_of(capped)["records"]:
        counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    assert counts == {"qa": 10, "negative": 4, "clarify": 5}
    assert _splits(capped) == _splits(again)


def test_balance_ratios_keep_the_mix() -> None:
    balance = parse_balance("qa=0.5,negative=0.5")
    assert caps_for(balance, {"qa": 30, "negative": 12}) == {"qa": 12, "negative": 12}
    assert caps_for(parse_balance("qa=3,negative=0"), {"qa": 30}) == {"qa": 3, "negative": 0}
    with pytest.raises(ExportError):
        parse_balance("qa")
    with pytest.raises(ExportError):
        parse_balance("qa=-1")


def test_nothing_signed_off_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    add_drafts(ledger, add_document(ledger)[0], count=3)
    with pytest.raises(ExportError, match="nothing to export"):
        export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_cli_export_refuses_occupied_folder_and_force_replaces(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_mixed(ledger)
    out = tmp_path / "out"
    base = ["--ledger", str(ledger_path), "export", "--out", str(out)]
    assert main(base) == 0
    assert "exported" in capsys.readouterr().out
    assert main(base) == 3
    assert "already holds an export" in capsys.readouterr().err
    assert main([*base, "--force", "--format", "alpaca"]) == 0
    assert manifest_of(out)["format"] == "alpaca"
    assert (
        not (out / data_file("train", "jsonl")).exists()
        or "instruction" in (out / data_file("train", "jsonl")).read_text()
    )
    (out / "notes.txt").write_text("mine")
    assert main([*base, "--force"]) == 3
    assert "no manifest lists" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"
    strange = tmp_path / "strange"
    strange.mkdir()
    (strange / "x").write_text("x")
    assert main(["--ledger", str(ledger_path), "export", "--out", str(strange)]) == 3
    assert main([*base, "--kinds", "bogus"]) == 3


def test_cli_system_prompt_from_file(ledger: Ledger, ledger_path: Path, tmp_path: Path) -> None:
    build_mixed(ledger)
    prompt = tmp_path / "system.txt"
    prompt.write_text("You answer for Tidepool.\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["--ledger", str(ledger_path), "export", "--out", str(out)]
    assert main([*args, "--system-prompt", f"@{prompt}", "--eval-fraction", "0"]) == 0
    lines = read_jsonl(out / data_file("train", "jsonl"))
    assert lines and all(
        line["messages"][0] == {"role": "system", "content": "You answer for Tidepool."}
        for line in lines
    )
    # An empty split gets no file (loaders refuse an empty one); the manifest says so.
    assert not (out / data_file("validation", "jsonl")).exists()
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["empty_splits_left_out"] == ["validation"]
    assert [f["path"] for f in manifest["files"]] == [data_file("train", "jsonl"), *RECIPE_FILES]


@pytest.mark.parametrize(
    "text",
    ["plain", "", "quote \" and \\ backslash", "tab\tnew\nline\r\x00\x1f\x7f", "é ü 日本 🚀",
     "\u2028\u2029", "<script>&amp;</script>"],
)  # fmt: skip
def test_record_hash_equals_the_rfc8785_content_hash(text: str) -> None:
    from ledger.ids import content_hash

    for system in (None, text):
        content = record_content(text, text + "!", system, "qa")
        assert record_hash(content) == content_hash(content)
