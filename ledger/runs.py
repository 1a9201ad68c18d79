"""Training runs, recorded beside the export they trained on.

A run is the loss curve a trainer wrote (train and eval loss by step), read from its metrics
file by ``draftgate runs add``. Its row keeps the export's manifest hash and the file's hash
as they were when it was recorded, and ``run_hash`` covers the row and every point: the audit
recomputes it and checks the manifest hash against the export's, so a run edited in the ledger
or pinned to an export that changed shows as a break.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.ids import content_hash, new_event_id
from ledger.migrations import TRAINING_RUNS_SCHEMA
from ledger.store import Ledger

RUN_FIELDS = (
    "id",
    "export_id",
    "manifest_hash",
    "file_name",
    "file_hash",
    "source_format",
    "point_count",
    "recorded_at",
)


class TrainingRunError(Exception):
    """A run that cannot be recorded: this file is already recorded for the export."""


class ExportLookupError(Exception):
    """No export has this id (or prefix), or more than one starts with it."""


@dataclass(frozen=True)
class LossPoint:
    step: int
    train_loss: float | None
    eval_loss: float | None


@dataclass(frozen=True)
class TrainingRun:
    id: str
    export_id: str
    manifest_hash: str
    file_name: str
    file_hash: str
    source_format: str  # "trainer_state" | "csv"
    point_count: int
    recorded_at: str
    run_hash: str
    points: tuple[LossPoint, ...]

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RUN_FIELDS}

    def last_train(self, at_or_before: int | None = None) -> LossPoint | None:
        """The last point with a train loss (at or before step ``at_or_before``)."""
        for point in reversed(self.points):
            if point.train_loss is not None and (
                at_or_before is None or point.step <= at_or_before
            ):
                return point
        return None

    def last_eval(self) -> LossPoint | None:
        return next((p for p in reversed(self.points) if p.eval_loss is not None), None)

    def best_eval(self) -> LossPoint | None:
        """The point with the lowest eval loss (the first of equals)."""
        evals = [p for p in self.points if p.eval_loss is not None]
        return min(evals, key=lambda p: p.eval_loss or 0.0) if evals else None

    @property
    def final_gap(self) -> float | None:
        """The last eval loss minus the last train loss logged at or before its step: how far
        the model does worse on held-out data than on what it trained on at the end."""
        last_eval = self.last_eval()
        if last_eval is None or last_eval.eval_loss is None:
            return None
        train = self.last_train(last_eval.step)
        if train is None or train.train_loss is None:
            return None
        return last_eval.eval_loss - train.train_loss

    @property
    def hash_ok(self) -> bool:
        """The stored ``run_hash`` still matches the row and its points."""
        return run_hash(self.fields(), self.points) == self.run_hash


def run_hash(fields: dict[str, Any], points: Sequence[LossPoint]) -> str:
    return content_hash(
        {
            **{name: fields[name] for name in RUN_FIELDS},
            "points": [[p.step, p.train_loss, p.eval_loss] for p in points],
        }
    )


def find_export(ledger: Ledger, export_ref: str) -> dict[str, Any]:
    """The export whose id is ``export_ref`` or starts with it (when one does)."""
    rows = ledger.query(
        "SELECT * FROM exports WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY created_at, id",
        (
            export_ref,
            export_ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
        ),
    )
    exact = [r for r in rows if r["id"] == export_ref]
    if exact:
        return dict(exact[0])
    if not rows or not export_ref:
        raise ExportLookupError(f"no export {export_ref!r} in {ledger.path}")
    if len(rows) > 1:
        raise ExportLookupError(
            f"export id {export_ref!r} is ambiguous ({len(rows)} exports start with it)"
        )
    return dict(rows[0])


def _require_schema(ledger: Ledger) -> None:
    if ledger.schema_version() < TRAINING_RUNS_SCHEMA:
        raise TrainingRunError(
            f"{ledger.path} is opened read-only at an older schema; open it writable once to "
            "upgrade it"
        )


def record_training_run(
    ledger: Ledger,
    export_ref: str,
    *,
    file_name: str,
    file_hash: str,
    source_format: str,
    points: Sequence[LossPoint],
    recorded_at: str,
) -> TrainingRun:
    """Store a run of the export ``export_ref`` (an id or a unique prefix) and its points in
    one transaction. The same file (by hash) is recorded once per export. Raises
    ExportLookupError or TrainingRunError."""
    _require_schema(ledger)
    export = find_export(ledger, export_ref)
    ordered = tuple(sorted(points, key=lambda p: p.step))
    fields: dict[str, Any] = {
        "id": new_event_id(),
        "export_id": export["id"],
        "manifest_hash": export["manifest_hash"],
        "file_name": file_name,
        "file_hash": file_hash,
        "source_format": source_format,
        "point_count": len(ordered),
        "recorded_at": recorded_at,
    }
    fields["run_hash"] = run_hash(fields, ordered)
    with ledger.transaction() as db:
        earlier = db.execute(
            "SELECT id FROM training_runs WHERE export_id = ? AND file_hash = ?",
            (export["id"], file_hash),
        ).fetchone()
        if earlier is not None:
            raise TrainingRunError(
                f"this file is already recorded for export {export['id']} as run {earlier[0]}"
            )
        db.execute(
            f"INSERT INTO training_runs({', '.join(fields)})"
            f" VALUES ({', '.join('?' for _ in fields)})",
            list(fields.values()),
        )
        db.executemany(
            "INSERT INTO training_run_points(run_id, step, train_loss, eval_loss)"
            " VALUES (?, ?, ?, ?)",
            [(fields["id"], p.step, p.train_loss, p.eval_loss) for p in ordered],
        )
    return TrainingRun(**fields, points=ordered)


def training_runs(ledger: Ledger, export_id: str | None = None) -> list[TrainingRun]:
    """Every recorded run (of ``export_id``), oldest first, with its points by step."""
    if ledger.schema_version() < TRAINING_RUNS_SCHEMA:
        return []
    where, params = ("WHERE export_id = ?", (export_id,)) if export_id else ("", ())
    runs = ledger.query(f"SELECT * FROM training_runs {where} ORDER BY recorded_at, id", params)
    points: dict[str, list[LossPoint]] = {}
    for row in ledger.query(
        "SELECT run_id, step, train_loss, eval_loss FROM training_run_points ORDER BY run_id, step"
    ):
        points.setdefault(row[0], []).append(LossPoint(row[1], row[2], row[3]))
    return [_row_to_run(r, points.get(r["id"], [])) for r in runs]


def _row_to_run(row: sqlite3.Row, points: list[LossPoint]) -> TrainingRun:
    return TrainingRun(
        **{name: row[name] for name in RUN_FIELDS},
        run_hash=row["run_hash"],
        points=tuple(points),
    )
