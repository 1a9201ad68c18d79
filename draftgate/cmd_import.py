"""``draftgate import``: a team's Q&As or production logs into the review queue."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from draftgate.context import CommandError, config_of, open_ledger
from draftgate.exit_codes import ExitCode
from draftgate.output import add_json_option, print_json
from generator.importer import (
    DEFAULT_COLUMNS,
    MIN_SHARED_SHARE,
    MIN_SHARED_WORDS,
    ImportFileError,
    ImportReport,
    import_file,
    parse_mapping,
)
from ledger.text import visible


def _columns_help() -> str:
    return "; ".join(f"{role}: {'/'.join(names)}" for role, names in DEFAULT_COLUMNS.items())


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="bring a team's Q&As or production logs (JSONL, CSV) into the review queue",
        description="Each good row becomes a draft waiting for review (origin import), with the "
        "file's hash and the row's line as provenance. A row is attached to the doc chunk "
        f"holding at least {MIN_SHARED_WORDS} and {int(MIN_SHARED_SHARE * 100)}% of its "
        "content words, else it is shown and audited as ungrounded. A production row's model "
        "answer is the draft's starting answer (a reference answer column wins) and is kept "
        "for preference exports. Bad rows are reported by line and skipped; rows imported "
        "before are skipped. Exits 3 when the file holds no importable row. Default columns "
        f"(first found, any case): {_columns_help()}. JSONL lines with OpenAI chat 'messages' "
        "read the last user message as the question and the assistant's reply as the model "
        "answer.",
    )
    parser.add_argument(
        "file", metavar="FILE", help="a .jsonl/.ndjson/.json (lines or one array) or .csv file"
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="ROLE=COLUMN,...",
        help="read a role from a named column: roles question, answer (a team's reference), "
        "model_answer (what production said), feedback, kind (repeatable; without it, the "
        "default column names above)",
    )
    add_json_option(parser, "the import summary")
    parser.set_defaults(run=run_import)


def run_import(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        mapping = parse_mapping(args.map)
    except ImportFileError as exc:
        raise CommandError(str(exc)) from exc
    with open_ledger(args, config) as ledger:
        try:
            report = import_file(ledger, Path(args.file), mapping)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
    # One plain line per bad row (no wrapping), so the list can be grepped and counted.
    for bad in report.bad:
        print(f"{visible(args.file)}:{bad.line}: skipped: {visible(bad.reason)}", file=sys.stderr)
    good = report.rows - len(report.bad)
    if args.json:
        print_json(
            {
                "file": report.file,
                "file_hash": report.file_hash,
                "format": report.format,
                "rows": report.rows,
                "imported": report.imported,
                "grounded": report.grounded,
                "ungrounded": report.ungrounded,
                "imported_before": report.already_imported,
                "bad": [{"line": b.line, "reason": b.reason} for b in report.bad],
                "document": report.document_path or None,
            }
        )
    else:
        _print_summary(report)
    if good == 0:
        raise CommandError(f"{args.file}: no importable row", ExitCode.BAD_INPUT)
    return ExitCode.OK


def _print_summary(report: ImportReport) -> None:
    out = Console(highlight=False)
    out.print(
        f"{report.rows} rows: imported {report.imported} "
        f"({report.grounded} grounded, {report.ungrounded} ungrounded), "
        f"{report.already_imported} imported before, {len(report.bad)} bad"
    )
    if report.ungrounded:
        out.print(f"ungrounded rows are shown under {escape(report.document_path)}")
