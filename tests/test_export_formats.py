"""Format checks: OpenAI chat lines validate, ShareGPT/Alpaca shapes, hf loads, Hub failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from export import ExportOptions, export
from export.layout import data_file
from export.records import validate_openai_chat_line
from ledger import Ledger
from tests.support.builders import REPO_ROOT
from tests.support.exports import build_mixed

VALID = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "How do I invite someone?"},
        {"role": "assistant", "content": "Open Team > Members and press Invite member."},
    ]
}


def test_validator_accepts_a_valid_line() -> None:
    assert validate_openai_chat_line(VALID) == []


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ([], "data_type"),
        ({}, "missing_messages_list"),
        ({"messages": []}, "missing_messages_list"),
        ({"messages": VALID["messages"], "id": 3}, "unrecognized_key"),
        (
            {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]},
            "message_missing_key",
        ),
        (
            {"messages": [{"role": "user", "content": "q", "extra": 1}, VALID["messages"][2]]},
            "message_unrecognized_key",
        ),
        (
            {"messages": [{"role": "human", "content": "q"}, VALID["messages"][2]]},
            "unrecognized_role",
        ),
        (
            {"messages": [{"role": "user", "content": "  "}, VALID["messages"][2]]},
            "missing_content",
        ),
        ({"messages": [{"role": "user", "content": 5}, VALID["messages"][2]]}, "missing_content"),
        ({"messages": [VALID["messages"][1]]}, "example_missing_assistant_message"),
        ({"messages": [VALID["messages"][2], VALID["messages"][1]]}, "assistant_not_last"),
    ],
)
def test_validator_names_each_problem(line: object, error: str) -> None:
    errors = validate_openai_chat_line(line)
    assert any(e.startswith(error) for e in errors), errors


def _lines(out: Path) -> list[dict]:
    # Draft ids are random, so a small export's eval split can come out empty: no file then.
    return [
        json.loads(text)
        for split in ("train", "validation")
        if (out / data_file(split, "jsonl")).exists()
        for text in (out / data_file(split, "jsonl")).read_text(encoding="utf-8").splitlines()
    ]


def test_every_exported_openai_line_passes_the_validator(ledger: Ledger, tmp_path: Path) -> None:
    mixed = build_mixed(ledger)
    for system in (None, "You answer for Tidepool."):
        out = tmp_path / f"openai-{bool(system)}"
        export(ledger, ExportOptions(format="openai", out_dir=out, system_prompt=system))
        lines = _lines(out)
        assert len(lines) == len(mixed.exported)
        assert all(validate_openai_chat_line(line) == [] for line in lines)
        assert all((line["messages"][0]["role"] == "system") == bool(system) for line in lines)


def test_sharegpt_and_alpaca_shapes(ledger: Ledger, tmp_path: Path) -> None:
    build_mixed(ledger)
    export(ledger, ExportOptions(format="sharegpt", out_dir=tmp_path / "s", system_prompt="Sys."))
    for line in _lines(tmp_path / "s"):
        assert [t["from"] for t in line["conversations"]] == ["system", "human", "gpt"]
        assert all(isinstance(t["value"], str) and t["value"] for t in line["conversations"])
    export(ledger, ExportOptions(format="alpaca", out_dir=tmp_path / "a"))
    columns = {"instruction", "input", "output", "system", "prompt", "completion"}
    for line in _lines(tmp_path / "a"):
        # Every column on every line: "system" is empty when no system prompt was set.
        assert set(line) == columns
        assert line["input"] == "" and line["instruction"] and line["output"]
        assert line["system"] == ""
        assert line["completion"] == line["output"]
        assert line["prompt"].startswith("Below is an instruction")
        assert line["prompt"].endswith(
            f"### Instruction:\n{line['instruction']}\n\n### Response:\n"
        )
    export(ledger, ExportOptions(format="alpaca", out_dir=tmp_path / "as", system_prompt="Sys."))
    for line in _lines(tmp_path / "as"):
        assert set(line) == columns
        assert line["system"] == "Sys."
        assert line["prompt"].startswith("Sys.\n\n### Instruction:\n")


def test_hf_export_loads_with_datasets_and_parquet(ledger: Ledger, tmp_path: Path) -> None:
    from datasets import load_dataset, load_from_disk

    mixed = build_mixed(ledger)
    out = tmp_path / "hf"
    result = export(ledger, ExportOptions(format="hf", out_dir=out, eval_fraction=0.3))
    loaded = load_from_disk(str(out / "dataset"))
    assert set(loaded) == {"train", "validation"}
    assert loaded["train"].num_rows == sum(result.counts["train"].values())
    assert loaded["train"].num_rows + loaded["validation"].num_rows == len(mixed.exported)
    provenance = {"draft_id", "decision_id", "kind", "subtype", "document", "reviewer",
                  "record_hash"}  # fmt: skip
    assert provenance <= set(loaded["train"].column_names)
    rows = [*loaded["train"], *loaded["validation"]]
    assert {r["draft_id"] for r in rows} == mixed.exported
    assert all(r["reviewer"] == "ann" for r in rows)
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows)
    for draft_id, (question, answer) in mixed.edited.items():
        row = next(r for r in rows if r["draft_id"] == draft_id)
        assert (row["question"], row["answer"]) == (question, answer)
    from_parquet = load_dataset(
        "parquet",
        data_files={s: str(out / data_file(s, "parquet")) for s in ("train", "validation")},
        cache_dir=str(tmp_path / "cache"),
    )
    assert from_parquet["validation"].num_rows == loaded["validation"].num_rows
    table = pq.read_table(out / data_file("train", "parquet"))
    assert table.column("record_hash").to_pylist() == loaded["train"]["record_hash"]


def test_push_to_hub_failure_is_one_line_and_exit_code(ledger: Ledger, ledger_path: Path,
                                                       tmp_path: Path) -> None:  # fmt: skip
    build_mixed(ledger)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        # Offline mode and a loopback endpoint: the push fails without leaving this machine.
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_TOKEN": "hf_not_a_real_token",
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "draftgate", "--ledger", str(ledger_path), "export",
         "--format", "hf", "--out", str(tmp_path / "hf"), "--push-to-hub", "someone/tidepool"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 6, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("draftgate: error: push to the Hub (someone/tidepool) failed")
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "hf" / "manifest.json").exists()


def test_hf_export_with_an_empty_eval_split_leaves_it_out(ledger: Ledger, tmp_path: Path) -> None:
    from datasets import load_from_disk

    mixed = build_mixed(ledger)
    out = tmp_path / "hf"
    result = export(ledger, ExportOptions(format="hf", out_dir=out, eval_fraction=0.0))
    loaded = load_from_disk(str(out / "dataset"))
    assert list(loaded) == ["train"]
    assert loaded["train"].num_rows == len(mixed.exported)
    assert not (out / data_file("validation", "parquet")).exists()
    assert result.left_out_splits == ["validation"]


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "alpaca", "hf"])
def test_the_files_of_an_export_with_an_empty_eval_split_load_with_datasets(
    ledger: Ledger, tmp_path: Path, fmt: str
) -> None:
    """The written files, as a trainer loads them: every split the manifest lists, through
    the real ``load_dataset``."""
    from datasets import load_dataset

    mixed = build_mixed(ledger)
    out = tmp_path / fmt
    export(ledger, ExportOptions(format=fmt, out_dir=out, eval_fraction=0.0))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["empty_splits_left_out"] == ["validation"]
    data_files = {
        f["split"]: str(out / f["path"]) for f in manifest["files"] if f["split"] is not None
    }
    assert set(data_files) == {"train"}
    builder = "parquet" if fmt == "hf" else "json"
    loaded = load_dataset(builder, data_files=data_files, cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == len(mixed.exported)
