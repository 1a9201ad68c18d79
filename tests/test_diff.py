"""``draftgate diff``: records added, removed and edited between two exports, by kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from export import ExportOptions, export
from ledger import DraftKind, Ledger, RejectReason, Verdict
from tests.support.builders import add_drafts
from tests.support.exports import build_mixed, decide


def test_diff_lists_added_removed_and_edited_by_kind(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: Any
) -> None:
    mixed = build_mixed(ledger)
    first = export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "a")).export_id
    # Between the exports: one pending negative signed off, one approved qa rejected, one
    # approved qa edited, and a new qa draft approved.
    added_negative = mixed.pending[0]
    decide(ledger, added_negative, Verdict.APPROVE)
    removed_qa = mixed.approved[0]
    decide(ledger, removed_qa, Verdict.REJECT, reason=RejectReason.WRONG_FACTS)
    edited_qa = mixed.approved[1]
    decide(
        ledger,
        edited_qa,
        Verdict.EDIT,
        final_question="How do I get last month's invoice?",
        final_answer="Open Settings > Billing > Invoices and pick last month.",
    )
    chunk = ledger.get_draft(edited_qa)
    assert chunk is not None
    (new_qa,) = add_drafts(ledger, chunk.chunk_id, count=1)
    decide(ledger, new_qa, Verdict.APPROVE)
    second = export(ledger, ExportOptions(format="sharegpt", out_dir=tmp_path / "b")).export_id

    capsys.readouterr()
    assert main(["--ledger", str(ledger_path), "diff", first, second, "--json"]) == ExitCode.OK
    result = json.loads(capsys.readouterr().out)
    assert result["a"]["id"] == first and result["b"]["id"] == second
    assert {r["draft_id"] for r in result["added"]} == {added_negative, new_qa}
    assert [r["draft_id"] for r in result["removed"]] == [removed_qa]
    (edit,) = result["edited"]
    assert edit["draft_id"] == edited_qa
    original = ledger.get_draft(edited_qa)
    assert original is not None
    assert edit["before"]["question"] == original.question
    assert edit["after"]["question"] == "How do I get last month's invoice?"
    counts = result["counts"]
    assert (counts["added"], counts["removed"], counts["edited"]) == (2, 1, 1)
    # Every record of A is in B unless removed: edited, moved between splits, or unchanged.
    kept = counts["edited"] + counts["resplit_or_rehashed"] + counts["unchanged"]
    assert kept == len(mixed.exported) - 1
    by_kind = result["by_kind"]
    assert by_kind[DraftKind.NEGATIVE.value]["added"] == 1
    assert by_kind[DraftKind.QA.value]["added"] == 1
    assert by_kind[DraftKind.QA.value]["removed"] == 1
    assert by_kind[DraftKind.QA.value]["edited"] == 1

    assert main(["--ledger", str(ledger_path), "diff", first[:10], second]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "records by kind" in out and "edited" in out and "removed" in out
    assert "last month" in out


def test_diff_of_an_export_with_itself_changes_nothing(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: Any
) -> None:
    build_mixed(ledger)
    only = export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "a")).export_id
    capsys.readouterr()
    assert main(["--ledger", str(ledger_path), "diff", only, only]) == ExitCode.OK
    assert "no records changed" in capsys.readouterr().out


def test_unknown_or_ambiguous_export_is_one_line(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, capsys: Any
) -> None:
    build_mixed(ledger)
    one = export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "a")).export_id
    export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "b"))
    for args, message in (
        ((one, "NOSUCH"), "no export 'NOSUCH'"),
        (("", one), "no export ''"),
        ((one[:1], one), "ambiguous"),
    ):
        capsys.readouterr()
        assert main(["--ledger", str(ledger_path), "diff", *args]) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
