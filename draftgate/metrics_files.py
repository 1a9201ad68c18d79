"""Reading a training run's metrics file: the loss by step that ``draftgate runs add`` records.

Two shapes are read:

- Hugging Face Trainer's ``trainer_state.json``: ``log_history`` holds one entry per logging
  step with ``loss`` and one per evaluation with ``eval_loss``, each with its ``step``. The
  last entry's ``train_loss`` is the mean over the whole run, not a point of the curve, so it
  is left out.
- A CSV with a header: a step column and a train and/or eval loss column. Header names are
  matched without regard to case or spaces: ``step``; ``train_loss``, ``loss``,
  ``training_loss``, ``train/loss``; ``eval_loss``, ``valid_loss``, ``validation_loss``,
  ``val_loss``, ``eval/loss``. OpenAI's fine-tuning results file (``step, train_loss,
  train_accuracy, valid_loss, ...``) is one such CSV. Empty cells are missing values.

Anything else is a ``MetricsFileError`` with one line saying what is wrong and where.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.userfiles import NotRegularFileError, TooLargeError, read_regular_file
from ledger.ids import hash_bytes
from ledger.runs import LossPoint

MAX_METRICS_BYTES = 256 << 20  # a trainer_state.json of a very long run is tens of MB

STEP_COLUMNS = ("step", "steps", "global_step")
TRAIN_COLUMNS = ("train_loss", "loss", "training_loss", "train/loss")
EVAL_COLUMNS = ("eval_loss", "valid_loss", "validation_loss", "val_loss", "eval/loss")

TRAINER_STATE = "trainer_state"
CSV_FORMAT = "csv"


class MetricsFileError(Exception):
    """Why the file cannot be read as a run's metrics: one line."""


@dataclass(frozen=True)
class MetricsFile:
    name: str
    file_hash: str
    source_format: str
    points: list[LossPoint]


def read_metrics_file(path: str | Path) -> MetricsFile:
    """The loss points of a ``trainer_state.json`` or a loss CSV, with the file's hash."""
    name = Path(path).name
    try:
        data = read_regular_file(path, MAX_METRICS_BYTES)
    except NotRegularFileError as exc:
        raise MetricsFileError(f"{path}: {exc}, not a metrics file") from exc
    except TooLargeError as exc:
        raise MetricsFileError(f"{path}: {exc.size} bytes, more than the limit") from exc
    except OSError as exc:
        raise MetricsFileError(f"{path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetricsFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise MetricsFileError(f"{path}: the file is empty")
    looks_json = Path(path).suffix.lower() == ".json" or text.lstrip().startswith("{")
    if looks_json:
        points, source_format = _trainer_state_points(path, text), TRAINER_STATE
    else:
        points, source_format = _csv_points(path, text), CSV_FORMAT
    if not points:
        raise MetricsFileError(f"{path}: no loss values found")
    return MetricsFile(name, hash_bytes(data), source_format, points)


def _loss(path: str | Path, where: str, column: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise MetricsFileError(f"{path}: {where}: {column} {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetricsFileError(f"{path}: {where}: {column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise MetricsFileError(f"{path}: {where}: {column} {value!r} is not a finite number")
    return number


def _step(path: str | Path, where: str, value: Any) -> int:
    if isinstance(value, bool):
        raise MetricsFileError(f"{path}: {where}: step {value!r} is not a whole number")
    try:
        number = float(value) if isinstance(value, str) else value
        if not isinstance(number, int | float) or not float(number).is_integer() or number < 0:
            raise ValueError
        return int(number)
    except (TypeError, ValueError, OverflowError):
        raise MetricsFileError(f"{path}: {where}: step {value!r} is not a whole number") from None


def _trainer_state_points(path: str | Path, text: str) -> list[LossPoint]:
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetricsFileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise MetricsFileError(
            f"{path}: no log_history list: not a Hugging Face trainer_state.json"
        )
    train: dict[int, float] = {}
    evals: dict[int, float] = {}
    for index, entry in enumerate(history):
        where = f"log_history[{index}]"
        if not isinstance(entry, dict):
            raise MetricsFileError(f"{path}: {where} is not an object")
        if "loss" not in entry and "eval_loss" not in entry:
            continue  # learning rate only, or the run's summary (its mean train_loss)
        if "step" not in entry:
            raise MetricsFileError(f"{path}: {where} has a loss but no step")
        step = _step(path, where, entry["step"])
        for column, into in (("loss", train), ("eval_loss", evals)):
            value = _loss(path, where, column, entry.get(column))
            if value is not None:
                into[step] = value
    return _merged(train, evals)


def _csv_points(path: str | Path, text: str) -> list[LossPoint]:
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except (StopIteration, csv.Error) as exc:
        raise MetricsFileError(f"{path}: no CSV header") from exc
    names = [h.strip().lower().replace(" ", "_") for h in header]

    def column(candidates: tuple[str, ...]) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    step_at, train_at, eval_at = column(STEP_COLUMNS), column(TRAIN_COLUMNS), column(EVAL_COLUMNS)
    found = ", ".join(h.strip() for h in header) or "(nothing)"
    if step_at is None:
        raise MetricsFileError(f"{path}: no step column (want one of: step); header: {found}")
    if train_at is None and eval_at is None:
        raise MetricsFileError(
            f"{path}: no loss column (want train_loss, loss, training_loss, eval_loss, "
            f"valid_loss or validation_loss); header: {found}"
        )
    train: dict[int, float] = {}
    evals: dict[int, float] = {}
    try:
        for line_no, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            where = f"line {line_no}"
            if len(row) != len(header):
                raise MetricsFileError(
                    f"{path}: {where}: {len(row)} cells, the header has {len(header)}"
                )
            step = _step(path, where, row[step_at].strip())
            if step in train or step in evals:
                raise MetricsFileError(f"{path}: {where}: step {step} appears twice")
            for at, name, into in ((train_at, "train loss", train), (eval_at, "eval loss", evals)):
                if at is None:
                    continue
                value = _loss(path, where, name, row[at])
                if value is not None:
                    into[step] = value
    except csv.Error as exc:
        raise MetricsFileError(f"{path}: not a readable CSV ({exc})") from exc
    return _merged(train, evals)


def _merged(train: dict[int, float], evals: dict[int, float]) -> list[LossPoint]:
    return [LossPoint(step, train.get(step), evals.get(step)) for step in sorted({*train, *evals})]
