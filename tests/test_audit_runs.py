"""The audit's training runs: per export, the loss curves (inline SVG in HTML, a text summary
in the terminal and Markdown), the final train/eval gap, and a break for an altered run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from audit.training_runs import sparkline
from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from ledger import Ledger
from tests.support.exports import build_mixed
from tests.support.tamper import RawLedger
from tests.test_runs import OPENAI_CSV, TRAINER_STATE

# A file name is untrusted text: it must come out inert in every report.
HOSTILE_NAME = "<img src=x>run.csv"


@pytest.fixture
def with_runs(ledger: Ledger, tmp_path: Path) -> str:
    build_mixed(ledger)
    out = tmp_path / "export"
    assert main(["--ledger", ledger.path, "export", "--out", str(out)]) == ExitCode.OK
    (export_row,) = ledger.recorded_exports()
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps(TRAINER_STATE))
    results = tmp_path / HOSTILE_NAME
    results.write_text(OPENAI_CSV)
    for path in (state, results):
        assert main(["--ledger", ledger.path, "runs", "add", export_row["id"], str(path)]) == 0
    return str(export_row["id"])


def audit(ledger: Ledger, tmp_path: Path, fmt: str) -> tuple[int, str]:
    report = tmp_path / f"audit.{fmt}"
    code = main(["--ledger", ledger.path, "audit", "--format", fmt, "--out", str(report)])
    return code, report.read_text(encoding="utf-8")


def test_json_report_has_each_runs_curve_and_gap(
    ledger: Ledger, with_runs: str, tmp_path: Path, capsys: Any
) -> None:
    code, text = audit(ledger, tmp_path, "json")
    assert code == ExitCode.OK
    report = json.loads(text)
    assert report["integrity"]["ok"] is True
    runs = report["training_runs"]
    assert runs["count"] == 2
    (export,) = runs["exports"]
    assert export["export_id"] == with_runs and export["format"] == "openai"
    state, results = export["runs"]
    assert state["file_name"] == "trainer_state.json"
    assert [p["step"] for p in state["points"]] == [10, 20, 30]
    assert state["final_gap"] == pytest.approx(0.59)
    assert (state["best_eval_loss"], state["best_eval_step"]) == (1.64, 30)
    assert state["hash_ok"] is True and state["manifest_matches"] is True
    assert results["final_train_loss"] == 0.91 and results["final_eval_loss"] == 1.97
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "Training runs: 2" in out
    assert "trainer_state.json: 3 points, final train 1.0500, eval 1.6400, gap +0.5900" in out


def test_html_draws_each_curve_as_inline_svg(
    ledger: Ledger, with_runs: str, tmp_path: Path
) -> None:
    code, page = audit(ledger, tmp_path, "html")
    assert code == ExitCode.OK
    section = page[page.index('id="training-runs"') : page.index('id="provenance"')]
    polylines = re.findall(r'<polyline points="([^"]+)"', section)
    # Two runs, each with a train and an eval line.
    assert len(polylines) == 4
    # trainer_state: three train points and two eval points, all inside the plot.
    train, evals = polylines[0].split(), polylines[1].split()
    assert (len(train), len(evals)) == (3, 2)
    for x, y in (pair.split(",") for pair in train + evals):
        assert 56 <= float(x) <= 504 and 14 <= float(y) <= 186
    # Lower loss is drawn lower on the page: the train curve falls, so its y grows.
    ys = [float(pair.split(",")[1]) for pair in train]
    assert ys == sorted(ys)
    assert "gap +0.5900" in section and "<script" not in page
    assert HOSTILE_NAME not in page and "&lt;img src=x&gt;run.csv" in section


def test_markdown_summarises_runs_with_sparklines(
    ledger: Ledger, with_runs: str, tmp_path: Path
) -> None:
    code, text = audit(ledger, tmp_path, "md")
    assert code == ExitCode.OK
    section = text[text.index("## Training runs") :]
    rows = [line for line in section.splitlines() if line.startswith(f"| {with_runs}")]
    assert len(rows) == 2
    assert "+0.5900" in rows[0] and "1.6400 (30)" in rows[0]
    assert sparkline([2.41, 1.52, 1.05]) in rows[0] and sparkline([1.71, 1.64]) in rows[0]
    assert "&lt;img src=x&gt;run.csv" in rows[1]


def test_no_runs_says_so(ledger: Ledger, tmp_path: Path) -> None:
    build_mixed(ledger)
    assert main(["--ledger", ledger.path, "export", "--out", str(tmp_path / "e")]) == 0
    _, text = audit(ledger, tmp_path, "md")
    assert "None recorded" in text[text.index("## Training runs") :]


def test_an_altered_run_is_an_integrity_break(
    ledger: Ledger, with_runs: str, tmp_path: Path, capsys: Any
) -> None:
    with RawLedger(Path(ledger.path)) as raw:
        raw.execute("UPDATE training_run_points SET eval_loss = 0.5 WHERE step = 30")
    code, text = audit(ledger, tmp_path, "json")
    assert code == ExitCode.INTEGRITY
    report = json.loads(text)
    kinds = {b["kind"] for b in report["integrity"]["breaks"]}
    assert kinds == {"training_run_changed"}
    run = report["training_runs"]["exports"][0]["runs"][0]
    assert run["hash_ok"] is False
    assert main(["--ledger", ledger.path, "verify"]) == ExitCode.INTEGRITY
    assert "training_run_changed: training run" in capsys.readouterr().out


def test_a_removed_run_row_leaves_its_points_as_a_break(
    ledger: Ledger, with_runs: str, capsys: Any
) -> None:
    with RawLedger(Path(ledger.path)) as raw:
        raw.execute("DELETE FROM training_runs WHERE file_name = 'trainer_state.json'")
    capsys.readouterr()
    assert main(["--ledger", ledger.path, "verify"]) == ExitCode.INTEGRITY
    out = capsys.readouterr().out
    assert "training_run_missing" in out and out.count("training_run") == 1


def test_sparkline_spans_lowest_to_highest() -> None:
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert sparkline([None, 1.0, None]) == "▄"
    assert sparkline([]) == ""
    assert len(sparkline([float(i) for i in range(100)])) == 24
    assert sparkline([float(i) for i in range(100)]).endswith("█")
