"""The audit's training-runs section: each export's recorded loss curves, final train/eval gap,
and whether each run's links hold (its hash, and the export manifest hash it recorded).

A run that fails either check is also an integrity break, found by ``ledger.verify`` (which
the audit runs): the curve shown would not be the one recorded for the data it describes.
"""

from __future__ import annotations

from collections.abc import Sequence

from audit.model import (
    ExportRuns,
    LossPointRow,
    TrainingRunRow,
    TrainingRuns,
)
from ledger import Ledger
from ledger.runs import TrainingRun, training_runs

SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24


def training_runs_section(ledger: Ledger) -> TrainingRuns:
    """Every recorded run, grouped by export in the order the exports were made."""
    exports = {row["id"]: row for row in ledger.recorded_exports()}
    by_export: dict[str, list[TrainingRunRow]] = {}
    runs = training_runs(ledger)
    for run in runs:
        export = exports.get(run.export_id)
        manifest_matches = export is not None and export["manifest_hash"] == run.manifest_hash
        by_export.setdefault(run.export_id, []).append(_row(run, manifest_matches))
    order = {export_id: index for index, export_id in enumerate(exports)}
    return TrainingRuns(
        count=len(runs),
        exports=[
            ExportRuns(
                export_id=export_id,
                format=exports[export_id]["format"] if export_id in exports else None,
                created_at=exports[export_id]["created_at"] if export_id in exports else None,
                runs=rows,
            )
            for export_id, rows in sorted(
                by_export.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
            )
        ],
    )


def _row(run: TrainingRun, manifest_matches: bool) -> TrainingRunRow:
    last_train, last_eval, best = run.last_train(), run.last_eval(), run.best_eval()
    return TrainingRunRow(
        run_id=run.id,
        file_name=run.file_name,
        file_hash=run.file_hash,
        source_format=run.source_format,
        recorded_at=run.recorded_at,
        points=[
            LossPointRow(step=p.step, train_loss=p.train_loss, eval_loss=p.eval_loss)
            for p in run.points
        ],
        final_train_loss=last_train.train_loss if last_train else None,
        final_eval_loss=last_eval.eval_loss if last_eval else None,
        final_gap=run.final_gap,
        best_eval_loss=best.eval_loss if best else None,
        best_eval_step=best.step if best else None,
        hash_ok=run.hash_ok,
        manifest_matches=manifest_matches,
    )


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """The values as block characters, lowest ▁ to highest █, resampled to at most ``width``
    (the last value of each bucket, so the line ends on the final loss); "" for none."""
    present = [v for v in values if v is not None]
    if not present:
        return ""
    if len(present) > width:
        present = [
            present[min(len(present) - 1, (i + 1) * len(present) // width - 1)]
            for i in range(width)
        ]
    low, high = min(present), max(present)
    span = high - low
    top = len(SPARK_BARS) - 1
    return "".join(
        SPARK_BARS[round((v - low) / span * top) if span > 0 else top // 2] for v in present
    )


def loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def gap(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def run_summary(run: TrainingRunRow) -> str:
    """One line of plain text: the run's final losses, gap, lowest eval loss and curves."""
    parts = [
        f"{run.file_name}: {len(run.points)} points",
        f"final train {loss(run.final_train_loss)}",
        f"eval {loss(run.final_eval_loss)}",
        f"gap {gap(run.final_gap)}",
    ]
    if run.best_eval_step is not None:
        parts.append(f"lowest eval {loss(run.best_eval_loss)} at step {run.best_eval_step}")
    train = sparkline([p.train_loss for p in run.points])
    evals = sparkline([p.eval_loss for p in run.points])
    curves = " ".join(
        text
        for text in (f"train {train}" if train else "", f"eval {evals}" if evals else "")
        if text
    )
    return ", ".join(parts) + (f"; {curves}" if curves else "")
