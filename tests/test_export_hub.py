"""``draftgate export --push-to-hub``: data, manifest, recipes and a dataset card, against a
loopback stand-in for the Hub API (tests/support/fake_hub.py); nothing leaves this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from export.layout import data_file
from ledger import Ledger
from tests.support.builders import REPO_ROOT
from tests.support.exports import build_mixed
from tests.support.fake_hub import FakeHub

TOKEN = "hf_loopbackTokenNeverPrinted1234"


def _run(args: list[str], hub: FakeHub, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HF_") and key != "HUGGING_FACE_HUB_TOKEN"
    }
    env |= {
        "PYTHONPATH": str(REPO_ROOT),
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "draftgate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "draftgate.toml"
    path.write_text('[export]\nlicense = "cc-by-4.0"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["openai", "hf"])
def test_push_uploads_data_manifest_recipes_and_a_card(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, fmt: str
) -> None:
    from huggingface_hub import DatasetCard

    mixed = build_mixed(ledger)
    out = tmp_path / "export"
    with FakeHub() as hub:
        run = _run(
            ["export", "--ledger", str(ledger_path), "--config", str(_config(tmp_path)),
             "--format", fmt, "--out", str(out), "--system-prompt", "Be brief.",
             "--push-to-hub", "acme/tidepool-support", "--private"],
            hub, tmp_path,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "pushed to the Hub: acme/tidepool-support" in run.stdout
    assert hub.created == [
        {"name": "tidepool-support", "organization": "acme", "visibility": "private",
         "type": "dataset"}
    ]  # fmt: skip
    files = hub.repos["acme/tidepool-support"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    data = {f["path"] for f in manifest["files"] if f["split"]}
    # The hf format's save_to_disk copy stays local: the Hub reads data/.
    assert set(files) == {*data, "manifest.json", "dataset_info.json", "axolotl.yaml", "README.md"}
    for name in set(files) - {"README.md"}:
        assert files[name] == (out / name).read_bytes(), name
    assert hub.commits[0]["summary"] == f"Draftgate export {manifest['export_id']}"

    card = DatasetCard(files["README.md"].decode("utf-8"))
    assert card.data.license == "cc-by-4.0"
    assert card.data.configs == [
        {
            "config_name": "default",
            "data_files": [
                {"split": split, "path": data_file(split, "parquet" if fmt == "hf" else "jsonl")}
                for split in ("train", "validation")
                if manifest["counts"][split]
            ],
        }
    ]
    text = card.text
    head = manifest["ledger"]
    assert f"Ledger head: #{head['head_seq']} `{head['head_hash']}`" in text
    assert "Audit before upload: passed" in text
    assert f"{len(mixed.exported)} records" in text
    approved = len(mixed.approved) + len(mixed.back_to_approve)
    assert f"Signed off: {approved} approve, {len(mixed.edited)} edit, by 1 named" in text
    assert "Drafted: 13 by test-model." in text
    for split, by_kind in manifest["counts"].items():
        if by_kind:
            row = f"| {split} | {by_kind.get('negative', 0)} | {by_kind.get('qa', 0)} |"
            assert row in text
    assert "System prompt: `Be brief.`" in text

    # The token went to the Hub as a bearer header, and nowhere else.
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub.requests)
    assert not any(TOKEN.encode() in r.body for r in hub.requests)
    assert TOKEN not in run.stdout + run.stderr
    for path in [*out.rglob("*"), *tmp_path.glob("ledger.sqlite*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_the_uploaded_repo_loads_as_train_and_validation(
    ledger: Ledger, ledger_path: Path, tmp_path: Path
) -> None:
    """What the Hub serves, laid out as a repo: load_dataset reads the card's configs."""
    from datasets import load_dataset

    build_mixed(ledger)
    out = tmp_path / "export"
    with FakeHub() as hub:
        run = _run(
            ["export", "--ledger", str(ledger_path), "--format", "alpaca", "--out", str(out),
             "--eval-fraction", "0.3", "--push-to-hub", "acme/tidepool"],
            hub, tmp_path,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert hub.created[0]["visibility"] == "public"
    clone = tmp_path / "clone"
    for name, content in hub.repos["acme/tidepool"].items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_bytes(content)
    loaded = load_dataset(str(clone), cache_dir=str(tmp_path / "cache"))
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    assert {s: loaded[s].num_rows for s in loaded} == {
        s: sum(c.values()) for s, c in counts.items() if c
    }
    assert "License: not set" in (clone / "README.md").read_text(encoding="utf-8")


def test_a_failed_upload_is_one_line_exit_6_and_keeps_the_export(
    ledger: Ledger, ledger_path: Path, tmp_path: Path
) -> None:
    build_mixed(ledger)
    out = tmp_path / "export"
    with FakeHub(fail_commit=True) as hub:
        run = _run(
            ["export", "--ledger", str(ledger_path), "--format", "sharegpt", "--out", str(out),
             "--push-to-hub", "acme/tidepool"],
            hub, tmp_path,
        )  # fmt: skip
    assert run.returncode == 6, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, run.stderr
    assert errors[0].startswith("draftgate: error: push to the Hub (acme/tidepool) failed: ")
    assert errors[0].endswith(f"the export in {out} is complete")
    assert "Traceback" not in run.stderr and TOKEN not in run.stderr
    assert hub.commits == [] and (out / "manifest.json").is_file()


def test_private_needs_push_to_hub(ledger_path: Path) -> None:
    from draftgate.cli import main

    assert main(["--ledger", str(ledger_path), "export", "--private"]) == 3
