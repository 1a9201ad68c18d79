"""``draftgate runs``: record a training run's loss curve beside the export it trained on, and
list the runs recorded."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from draftgate.context import CommandError, config_of, open_ledger
from draftgate.exit_codes import ExitCode
from draftgate.metrics_files import MetricsFileError, read_metrics_file
from ledger import utc_now
from ledger.runs import (
    ExportLookupError,
    TrainingRun,
    TrainingRunError,
    find_export,
    record_training_run,
    training_runs,
)
from ledger.text import visible


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser(
        "runs",
        help="record and list training runs (loss curves) of exports",
        description="Training runs beside their data: record the loss curve a trainer wrote "
        "for an export, hash-linked to that export; the audit then shows each export's curves "
        "and its final train/eval gap.",
    )
    commands = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND", required=True)
    add = commands.add_parser(
        "add",
        help="record a run's metrics file for an export",
        description="Record a training run's metrics for an export: Hugging Face Trainer's "
        "trainer_state.json (log_history: loss and eval_loss by step) or a CSV with a step "
        "column and train and/or eval loss columns (train_loss, loss or training_loss; "
        "eval_loss, valid_loss or validation_loss), such as OpenAI's fine-tuning results "
        "file. The run keeps the export's manifest hash and the file's hash.",
    )
    add.add_argument("export_id", metavar="EXPORT_ID", help="export id (or a unique prefix)")
    add.add_argument("file", metavar="FILE", help="trainer_state.json or a loss CSV")
    add.set_defaults(run=run_runs_add)
    listing = commands.add_parser(
        "list",
        help="list the recorded runs",
        description="List the recorded training runs, oldest first, with their final losses.",
    )
    listing.add_argument(
        "export_id", metavar="EXPORT_ID", nargs="?", help="only this export's runs"
    )
    listing.add_argument("--json", action="store_true", help="print JSON (with every point)")
    listing.set_defaults(run=run_runs_list)


def _loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def describe(run: TrainingRun) -> str:
    """One line: the run's points, final losses and gap."""
    last_train, last_eval = run.last_train(), run.last_eval()
    gap = run.final_gap
    parts = [
        f"{run.point_count} points, steps {run.points[0].step}–{run.points[-1].step}",
        f"final train loss {_loss(last_train.train_loss if last_train else None)}",
        f"final eval loss {_loss(last_eval.eval_loss if last_eval else None)}",
    ]
    if gap is not None:
        parts.append(f"gap {gap:+.4f}")
    return ", ".join(parts)


def run_runs_add(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        metrics = read_metrics_file(args.file)
    except MetricsFileError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    with open_ledger(args, config) as ledger:
        try:
            run = record_training_run(
                ledger,
                args.export_id,
                file_name=metrics.name,
                file_hash=metrics.file_hash,
                source_format=metrics.source_format,
                points=metrics.points,
                recorded_at=utc_now(),
            )
        except (ExportLookupError, TrainingRunError) as exc:
            raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    print(
        f"recorded run {run.id} for export {run.export_id} "
        f"({visible(metrics.name)}, {metrics.source_format}): {describe(run)}"
    )
    return ExitCode.OK


def run_as_json(run: TrainingRun) -> dict[str, Any]:
    last_train, last_eval = run.last_train(), run.last_eval()
    return {
        **run.fields(),
        "run_hash": run.run_hash,
        "final_train_loss": last_train.train_loss if last_train else None,
        "final_eval_loss": last_eval.eval_loss if last_eval else None,
        "final_gap": run.final_gap,
        "points": [
            {"step": p.step, "train_loss": p.train_loss, "eval_loss": p.eval_loss}
            for p in run.points
        ],
    }


def run_runs_list(args: argparse.Namespace) -> int:
    config = config_of(args)
    with open_ledger(args, config, reads_only=True) as ledger:
        export_id = None
        if args.export_id:
            try:
                export_id = find_export(ledger, args.export_id)["id"]
            except ExportLookupError as exc:
                raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
        runs = training_runs(ledger, export_id)
    if args.json:
        print(json.dumps([run_as_json(r) for r in runs], indent=2))
        return ExitCode.OK
    if not runs:
        print("no training runs recorded" + (f" for export {export_id}" if export_id else ""))
        return ExitCode.OK
    table = Table("export", "file", "points", "final train", "final eval", "gap")
    for run in runs:
        last_train, last_eval, gap = run.last_train(), run.last_eval(), run.final_gap
        table.add_row(
            run.export_id,
            escape(visible(run.file_name)),
            str(run.point_count),
            _loss(last_train.train_loss if last_train else None),
            _loss(last_eval.eval_loss if last_eval else None),
            "—" if gap is None else f"{gap:+.4f}",
        )
    Console().print(table)
    return ExitCode.OK
