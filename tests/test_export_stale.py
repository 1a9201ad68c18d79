"""Export and stale drafts: left out by default and counted; kept with --include-stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from draftgate.cli import main
from ledger import DecisionIn, Ledger, Verdict
from tests.support.builders import add_document, add_drafts

CHANGED = [
    "## Billing\n\nInvoices now live under **Account > Documents**.",
    "## Team\n\nInvite people from **Team > Members** with **Invite member**.",
]


def _approved_then_changed(ledger: Ledger) -> tuple[list[str], list[str]]:
    """Two approved drafts on the first section, one on the second; then the first changes."""
    chunks = add_document(ledger, path="docs/guide.md")
    first = add_drafts(ledger, chunks[0], count=2)
    second = add_drafts(ledger, chunks[1], count=1)
    for draft_id in [*first, *second]:
        ledger.record_decision(
            DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE)
        )
    add_document(ledger, path="docs/guide.md", sections=CHANGED)
    return first, second


def _exported(out: Path) -> tuple[set[str], dict]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {r["draft_id"] for r in manifest["records"]}, manifest


def test_stale_records_are_left_out_and_counted(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale, fresh = _approved_then_changed(ledger)
    out = tmp_path / "out"
    assert main(["--ledger", str(ledger_path), "export", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "left out 2 stale records" in printed and "--include-stale" in printed
    exported, manifest = _exported(out)
    assert exported == set(fresh)
    assert manifest["include_stale"] is False and manifest["stale_left_out"] == 2


def test_include_stale_keeps_them_and_says_so_in_the_manifest(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale, fresh = _approved_then_changed(ledger)
    out = tmp_path / "out"
    args = ["--ledger", str(ledger_path), "export", "--include-stale", "--out", str(out)]
    assert main(args) == 0
    assert "left out" not in capsys.readouterr().out
    exported, manifest = _exported(out)
    assert exported == {*stale, *fresh}
    assert manifest["include_stale"] is True and manifest["stale_left_out"] == 0


def test_only_stale_records_is_one_error_naming_the_flag(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chunks = add_document(ledger, path="docs/guide.md")
    (draft_id,) = add_drafts(ledger, chunks[0], count=1)
    ledger.record_decision(DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE))
    add_document(ledger, path="docs/guide.md", sections=CHANGED)
    out = tmp_path / "out"
    assert main(["--ledger", str(ledger_path), "export", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 stale (--include-stale keeps them)" in err
