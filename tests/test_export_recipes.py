"""The export folder a trainer is pointed at: data under data/, train/validation splits that
every loader names alike, trainer recipes beside the data, and the audit over that layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from draftgate.cli import main
from export import ExportError, ExportOptions, export
from export.layout import data_file
from export.manifest import file_hash
from export.records import alpaca_prompt
from export.writers import portable_features
from ledger import Ledger
from tests.support.exports import build_mixed

FORMATS = ("openai", "sharegpt", "alpaca", "hf")


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _counts(out: Path) -> dict[str, int]:
    return {s: sum(c.values()) for s, c in _manifest(out)["counts"].items() if c}


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_dataset_on_the_folder_reads_only_the_data(
    ledger: Ledger, tmp_path: Path, fmt: str
) -> None:
    from datasets import load_dataset

    build_mixed(ledger)
    out = tmp_path / fmt
    export(ledger, ExportOptions(format=fmt, out_dir=out, eval_fraction=0.3))
    loaded = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    # Exactly the two splits with the manifest's counts: manifest.json, the recipes and the
    # hf dataset copy were not read as rows.
    assert (
        {s: loaded[s].num_rows for s in loaded}
        == _counts(out)
        == {
            "train": loaded["train"].num_rows,
            "validation": loaded["validation"].num_rows,
        }
    )


def test_hf_dataset_copy_uses_the_split_names_and_portable_features(
    ledger: Ledger, tmp_path: Path
) -> None:
    from datasets import load_from_disk

    build_mixed(ledger)
    out = tmp_path / "hf"
    export(ledger, ExportOptions(format="hf", out_dir=out, eval_fraction=0.3))
    copy = load_from_disk(str(out / "dataset"))
    assert {s: copy[s].num_rows for s in copy} == _counts(out)
    for split in copy:
        info = (out / "dataset" / split / "dataset_info.json").read_text(encoding="utf-8")
        assert '"List"' not in info  # the 4.x-only spelling datasets 3.x cannot read
        assert json.loads(info)["features"]["messages"] == [
            {"role": {"dtype": "string", "_type": "Value"},
             "content": {"dtype": "string", "_type": "Value"}}
        ]  # fmt: skip
    assert copy["train"][0]["messages"][-1]["role"] == "assistant"


def test_portable_features_rewrites_nested_lists_only() -> None:
    value = {"dtype": "string", "_type": "Value"}
    features = {
        "a": value,
        "b": {"_type": "List", "feature": {"c": {"_type": "List", "feature": value}}},
        "d": {"_type": "List", "feature": value, "length": 3},  # fixed length: kept
    }
    assert portable_features(features) == {
        "a": value,
        "b": [{"c": [value]}],
        "d": {"_type": "List", "feature": value, "length": 3},
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_llama_factory_recipe_maps_every_column(ledger: Ledger, tmp_path: Path, fmt: str) -> None:
    build_mixed(ledger)
    out = tmp_path / fmt
    export(ledger, ExportOptions(format=fmt, out_dir=out, eval_fraction=0.3))
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    ext = "parquet" if fmt == "hf" else "jsonl"
    assert {name: entry["file_name"] for name, entry in info.items()} == {
        "draftgate": data_file("train", ext),
        "draftgate_validation": data_file("validation", ext),
    }
    for entry in info.values():
        assert (out / entry["file_name"]).is_file()
        if fmt == "alpaca":
            assert entry["formatting"] == "alpaca"
            assert entry["columns"] == {
                "prompt": "instruction", "query": "input", "response": "output", "system": "system"
            }  # fmt: skip
            assert "tags" not in entry
        else:
            assert entry["formatting"] == "sharegpt"
            shape = {
                "sharegpt": ("conversations", "from", "value", "human", "gpt"),
                "openai": ("messages", "role", "content", "user", "assistant"),
                "hf": ("messages", "role", "content", "user", "assistant"),
            }[fmt]
            assert entry["columns"] == {"messages": shape[0]}
            assert entry["tags"] == {
                "role_tag": shape[1], "content_tag": shape[2], "user_tag": shape[3],
                "assistant_tag": shape[4], "system_tag": "system",
            }  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_axolotl_recipe_points_at_the_data(ledger: Ledger, tmp_path: Path, fmt: str) -> None:
    build_mixed(ledger)
    out = tmp_path / fmt
    export(ledger, ExportOptions(format=fmt, out_dir=out, eval_fraction=0.3))
    config = yaml.safe_load((out / "axolotl.yaml").read_text(encoding="utf-8"))
    assert set(config) == {"datasets", "test_datasets"}
    (train,), (held,) = config["datasets"], config["test_datasets"]
    ext = "parquet" if fmt == "hf" else "jsonl"
    assert train["path"] == str((out / data_file("train", ext)).resolve())
    assert held["path"] == str((out / data_file("validation", ext)).resolve())
    for entry in (train, held):
        assert Path(entry["path"]).is_file()
        assert entry["ds_type"] == ("parquet" if fmt == "hf" else "json")
        assert entry["split"] == "train"
        if fmt == "alpaca":
            assert entry["type"] == "alpaca_w_system"
            continue
        field, role, content, user, assistant = {
            "sharegpt": ("conversations", "from", "value", "human", "gpt"),
            "openai": ("messages", "role", "content", "user", "assistant"),
            "hf": ("messages", "role", "content", "user", "assistant"),
        }[fmt]
        assert entry["type"] == "chat_template"
        assert entry["field_messages"] == field
        assert entry["message_property_mappings"] == {"role": role, "content": content}
        assert entry["roles"] == {"system": ["system"], "user": [user], "assistant": [assistant]}


def test_recipes_are_listed_with_their_hashes(ledger: Ledger, tmp_path: Path) -> None:
    build_mixed(ledger)
    out = tmp_path / "alpaca"
    export(ledger, ExportOptions(format="alpaca", out_dir=out, eval_fraction=0.0))
    files = _manifest(out)["files"]
    assert files == [
        {"path": data_file("train", "jsonl"), "split": "train"},
        {"path": "dataset_info.json", "split": None, "hash": file_hash(out / "dataset_info.json")},
        {"path": "axolotl.yaml", "split": None, "hash": file_hash(out / "axolotl.yaml")},
    ]
    # No validation file, so no recipe entry for it either.
    assert list(json.loads((out / "dataset_info.json").read_text())) == ["draftgate"]
    assert "test_datasets" not in yaml.safe_load((out / "axolotl.yaml").read_text())


def test_alpaca_prompt_is_the_alpaca_template() -> None:
    assert alpaca_prompt("How do I export?", None) == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nHow do I export?\n\n### Response:\n"
    )
    assert (
        alpaca_prompt("Q?", "Be brief.") == "Be brief.\n\n### Instruction:\nQ?\n\n### Response:\n"
    )


def _audit(ledger_path: Path, out: Path, tmp_path: Path) -> tuple[int, dict]:
    report = tmp_path / "audit.json"
    code = main(
        ["audit", "--ledger", str(ledger_path), "--export", str(out), "--format", "json",
         "--out", str(report)]
    )  # fmt: skip
    return code, json.loads(report.read_text(encoding="utf-8"))


def _kinds(audit: dict) -> set[str]:
    return {b["kind"] for b in audit["integrity"]["breaks"]}


@pytest.mark.parametrize("fmt", FORMATS)
def test_audit_passes_on_the_new_layout(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, fmt: str
) -> None:
    build_mixed(ledger)
    out = tmp_path / fmt
    export(ledger, ExportOptions(format=fmt, out_dir=out, system_prompt="Be brief."))
    code, audit = _audit(ledger_path, out, tmp_path)
    assert code == 0, audit["integrity"]["breaks"]
    assert audit["integrity"]["exports_checked"] == 1


def test_audit_names_an_edited_recipe(ledger: Ledger, ledger_path: Path, tmp_path: Path) -> None:
    build_mixed(ledger)
    out = tmp_path / "alpaca"
    export(ledger, ExportOptions(format="alpaca", out_dir=out, system_prompt="Be brief."))
    path = out / "dataset_info.json"
    info = json.loads(path.read_text(encoding="utf-8"))
    del info["draftgate"]["columns"]["system"]  # LLaMA-Factory would drop the system prompt
    path.write_text(json.dumps(info), encoding="utf-8")
    code, audit = _audit(ledger_path, out, tmp_path)
    assert code == 1
    assert _kinds(audit) == {"recipe_changed"}


def test_audit_names_a_file_added_under_data(
    ledger: Ledger, ledger_path: Path, tmp_path: Path
) -> None:
    build_mixed(ledger)
    out = tmp_path / "openai"
    export(ledger, ExportOptions(format="openai", out_dir=out))
    # load_dataset(folder) would read this as a "test" split.
    (out / "data" / "test-00000-of-00001.jsonl").write_text("{}\n", encoding="utf-8")
    code, audit = _audit(ledger_path, out, tmp_path)
    assert code == 1
    assert [b["ref"] for b in audit["integrity"]["breaks"]] == [
        str(out / "data" / "test-00000-of-00001.jsonl")
    ]


def test_audit_names_an_alpaca_completion_that_differs_from_the_output(
    ledger: Ledger, ledger_path: Path, tmp_path: Path
) -> None:
    build_mixed(ledger)
    out = tmp_path / "alpaca"
    export(ledger, ExportOptions(format="alpaca", out_dir=out, eval_fraction=0.0))
    path = out / data_file("train", "jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["completion"] = "Yes, we offer that too."  # what TRL trains on; output untouched
    lines[0] = json.dumps(first, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, audit = _audit(ledger_path, out, tmp_path)
    assert code == 1
    breaks = audit["integrity"]["breaks"]
    assert [(b["kind"], b["ref"]) for b in breaks] == [
        ("record_edited", f"{data_file('train', 'jsonl')}:1")
    ]
    assert "prompt or completion" in breaks[0]["detail"]


def test_force_replaces_an_export_with_a_data_folder_but_not_one_with_strangers(
    ledger: Ledger, tmp_path: Path
) -> None:
    build_mixed(ledger)
    out = tmp_path / "out"
    export(ledger, ExportOptions(format="openai", out_dir=out))
    export(ledger, ExportOptions(format="sharegpt", out_dir=out, force=True))
    assert _manifest(out)["format"] == "sharegpt"
    (out / "data" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ExportError, match="holds files no manifest lists"):
        export(ledger, ExportOptions(format="alpaca", out_dir=out, force=True))
    assert (out / "data" / "notes.txt").read_text(encoding="utf-8") == "mine"
