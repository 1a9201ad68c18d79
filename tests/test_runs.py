"""``draftgate runs``: training runs recorded beside their export, from trainer_state.json and
loss CSVs; bad files are one line; the rows are append-only and hash-linked to the export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from export import ExportOptions, export
from ledger import Ledger
from ledger.ids import hash_bytes
from ledger.runs import LossPoint, training_runs
from tests.support.exports import build_mixed

TRAINER_STATE: dict[str, Any] = {
    "best_metric": None,
    "epoch": 2.0,
    "global_step": 30,
    "log_history": [
        {"epoch": 0.33, "grad_norm": 3.1, "learning_rate": 1.8e-05, "loss": 2.41, "step": 10},
        {"epoch": 0.67, "grad_norm": 2.2, "learning_rate": 1.4e-05, "loss": 1.52, "step": 20},
        {
            "epoch": 0.67,
            "eval_loss": 1.71,
            "eval_runtime": 1.2,
            "eval_samples_per_second": 40.0,
            "step": 20,
        },
        {"epoch": 1.0, "grad_norm": 1.9, "learning_rate": 1.0e-05, "loss": 1.05, "step": 30},
        {"epoch": 1.0, "eval_loss": 1.64, "eval_runtime": 1.1, "step": 30},
        # The run's summary: its train_loss is the mean over the run, not a point.
        {"epoch": 1.0, "step": 30, "total_flos": 1.0e15, "train_loss": 1.66, "train_runtime": 60},
    ],
    "max_steps": 30,
}

OPENAI_CSV = (
    "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
    "1,2.90,0.41,,\n"
    "2,2.31,0.48,,\n"
    "3,1.80,0.55,2.05,0.52\n"
    "4,1.22,0.63,,\n"
    "5,0.91,0.70,1.97,0.58\n"
)


@pytest.fixture
def exported(ledger: Ledger, tmp_path: Path) -> str:
    build_mixed(ledger)
    return export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "export")).export_id


def runs_cli(ledger_path: Path, *args: str) -> int:
    return main(["--ledger", str(ledger_path), "runs", *args])


def test_trainer_state_is_recorded_with_its_curve_and_hashes(
    ledger: Ledger, ledger_path: Path, exported: str, tmp_path: Path, capsys: Any
) -> None:
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps(TRAINER_STATE, indent=2))
    assert runs_cli(ledger_path, "add", exported, str(state)) == ExitCode.OK
    out = capsys.readouterr().out
    assert "3 points, steps 10–30" in out and "gap +0.5900" in out
    (run,) = training_runs(ledger)
    assert run.export_id == exported and run.source_format == "trainer_state"
    assert run.points == (
        LossPoint(10, 2.41, None),
        LossPoint(20, 1.52, 1.71),
        LossPoint(30, 1.05, 1.64),
    )
    (export_row,) = ledger.recorded_exports()
    assert run.manifest_hash == export_row["manifest_hash"]
    assert run.file_hash == hash_bytes(state.read_bytes())
    assert run.hash_ok
    assert run.final_gap == pytest.approx(1.64 - 1.05)
    assert run.best_eval() == LossPoint(30, 1.05, 1.64)


def test_openai_results_csv_by_export_prefix(
    ledger: Ledger, ledger_path: Path, exported: str, tmp_path: Path
) -> None:
    results = tmp_path / "step_metrics.csv"
    results.write_text(OPENAI_CSV)
    assert runs_cli(ledger_path, "add", exported[:12], str(results)) == ExitCode.OK
    (run,) = training_runs(ledger)
    assert run.source_format == "csv" and run.point_count == 5
    assert run.points[0] == LossPoint(1, 2.90, None)
    assert run.points[2] == LossPoint(3, 1.80, 2.05)
    assert run.final_gap == pytest.approx(1.97 - 0.91)


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        ("Step,Training Loss,Validation Loss\n100,1.5,1.7\n", LossPoint(100, 1.5, 1.7)),
        ("step,loss,eval_loss\n100,1.5,1.7\n", LossPoint(100, 1.5, 1.7)),
        ("global_step,train/loss,eval/loss\n100,1.5,1.7\n", LossPoint(100, 1.5, 1.7)),
        ("step,validation_loss\n100,1.7\n", LossPoint(100, None, 1.7)),
        ("step,training_loss\n100,1.5\n", LossPoint(100, 1.5, None)),
    ],
)
def test_common_csv_headers(
    ledger: Ledger,
    ledger_path: Path,
    exported: str,
    tmp_path: Path,
    csv_text: str,
    expected: LossPoint,
) -> None:
    path = tmp_path / "losses.csv"
    path.write_text(csv_text)
    assert runs_cli(ledger_path, "add", exported, str(path)) == ExitCode.OK
    (run,) = training_runs(ledger)
    assert run.points == (expected,)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("state.json", '{"log_history": [', "not valid JSON (line 1"),
        ("state.json", '{"global_step": 3}', "no log_history list"),
        ("state.json", '{"log_history": [{"loss": 1.0}]}', "log_history[0] has a loss but no step"),
        ("state.json", '{"log_history": [{"epoch": 1}]}', "no loss values found"),
        ("state.json", '{"log_history": [{"loss": "x", "step": 1}]}', "loss 'x' is not a number"),
        ("losses.csv", "epoch,loss\n1,2.0\n", "no step column"),
        ("losses.csv", "step,accuracy\n1,0.5\n", "no loss column"),
        ("losses.csv", "step,train_loss\n1,abc\n", "line 2: train loss 'abc' is not a number"),
        ("losses.csv", "step,train_loss\n1,nan\n", "line 2: train loss 'nan' is not a finite"),
        ("losses.csv", "step,train_loss\n1.5,2.0\n", "line 2: step '1.5' is not a whole number"),
        ("losses.csv", "step,train_loss\n1,2.0\n1,1.9\n", "line 3: step 1 appears twice"),
        ("losses.csv", "step,train_loss\n1,2.0,3\n", "line 2: 3 cells, the header has 2"),
        ("losses.csv", "", "the file is empty"),
        ("losses.csv", b"step,train_loss\n1,\xff\n", "not UTF-8"),
    ],
)
def test_bad_files_are_one_line_and_store_nothing(
    ledger: Ledger,
    ledger_path: Path,
    exported: str,
    tmp_path: Path,
    capsys: Any,
    name: str,
    content: str | bytes,
    message: str,
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    capsys.readouterr()
    assert runs_cli(ledger_path, "add", exported, str(path)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert message in err[0] and str(path) in err[0]
    assert training_runs(ledger) == []


def test_missing_file_folder_unknown_export_and_repeat(
    ledger: Ledger, ledger_path: Path, exported: str, tmp_path: Path, capsys: Any
) -> None:
    results = tmp_path / "results.csv"
    results.write_text(OPENAI_CSV)
    cases = [
        (("add", exported, str(tmp_path / "nope.csv")), "No such file"),
        (("add", exported, str(tmp_path)), "a folder"),
        (("add", "01NOSUCHEXPORT", str(results)), "no export '01NOSUCHEXPORT'"),
    ]
    for args, message in cases:
        capsys.readouterr()
        assert runs_cli(ledger_path, *args) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert runs_cli(ledger_path, "add", exported, str(results)) == ExitCode.OK
    capsys.readouterr()
    assert runs_cli(ledger_path, "add", exported, str(results)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already recorded" in err[0]
    assert len(training_runs(ledger)) == 1


def test_runs_are_append_only(ledger: Ledger, exported: str, tmp_path: Path) -> None:
    results = tmp_path / "results.csv"
    results.write_text(OPENAI_CSV)
    assert runs_cli(Path(ledger.path), "add", exported, str(results)) == ExitCode.OK
    for statement in (
        "UPDATE training_runs SET file_name = 'x'",
        "DELETE FROM training_runs",
        "UPDATE training_run_points SET train_loss = 0.1",
        "DELETE FROM training_run_points",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), ledger.transaction() as db:
            db.execute(statement)
    assert training_runs(ledger)[0].point_count == 5


def test_list_shows_runs_and_json_has_points(
    ledger: Ledger, ledger_path: Path, exported: str, tmp_path: Path, capsys: Any
) -> None:
    capsys.readouterr()
    assert runs_cli(ledger_path, "list") == ExitCode.OK
    assert "no training runs recorded" in capsys.readouterr().out
    results = tmp_path / "results.csv"
    results.write_text(OPENAI_CSV)
    assert runs_cli(ledger_path, "add", exported, str(results)) == ExitCode.OK
    capsys.readouterr()
    # The global options are taken after a subcommand too, as after any command.
    assert main(["runs", "list", exported, "--json", "--ledger", str(ledger_path)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["export_id"] == exported and listed["file_name"] == "results.csv"
    assert listed["final_train_loss"] == 0.91 and listed["final_eval_loss"] == 1.97
    assert [p["step"] for p in listed["points"]] == [1, 2, 3, 4, 5]
    assert runs_cli(ledger_path, "list") == ExitCode.OK
    out = capsys.readouterr().out
    assert "results.csv" in out and "+1.0600" in out
