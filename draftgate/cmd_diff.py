"""``draftgate diff``: what changed between two exports (records added, removed, edited)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from draftgate.context import CommandError, config_of, open_ledger
from draftgate.exit_codes import ExitCode
from export.diff import CHANGES, ExportDiff, diff_exports
from ledger.runs import ExportLookupError
from ledger.text import visible

# Records listed per change in the terminal; --json lists every one.
LISTED = 20
QUESTION_CHARS = 70


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="list what changed between two exports",
        description="Compare two recorded exports record by record (a record is a signed-off "
        "draft): added, removed, edited (the same draft with a different signed final "
        "question or answer) and, apart, records whose text is unchanged but whose split or "
        "record hash changed; counted by kind. Read from the ledger: the export folders need "
        "not exist. Exits 0 whether or not anything changed.",
    )
    parser.add_argument("export_a", metavar="EXPORT_A", help="the earlier export (id or prefix)")
    parser.add_argument("export_b", metavar="EXPORT_B", help="the later export (id or prefix)")
    parser.add_argument("--json", action="store_true", help="print JSON listing every record")
    parser.set_defaults(run=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    config = config_of(args)
    with open_ledger(args, config, reads_only=True) as ledger:
        try:
            result = diff_exports(ledger, args.export_a, args.export_b)
        except ExportLookupError as exc:
            raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return ExitCode.OK
    _print_diff(result)
    return ExitCode.OK


def _short(text: str) -> str:
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= QUESTION_CHARS else flat[: QUESTION_CHARS - 1] + "…"


def _print_diff(result: ExportDiff) -> None:
    console = Console()
    a, b = result.export_a, result.export_b
    console.print(
        f"export A {a['id']} ({escape(a['format'])}, {a['record_count']} records) → "
        f"export B {b['id']} ({escape(b['format'])}, {b['record_count']} records)"
    )
    if not result.changed:
        console.print(f"no records changed ({result.unchanged} unchanged)")
        return
    counts = Table("kind", *(c.replace("_", " ") for c in CHANGES), title="records by kind")
    for kind in sorted(result.by_kind):
        counts.add_row(escape(kind), *(str(result.by_kind[kind][c]) for c in CHANGES))
    counts.add_row(
        "all",
        str(len(result.added)),
        str(len(result.removed)),
        str(len(result.edited)),
        str(len(result.resplit_or_rehashed)),
        str(result.unchanged),
    )
    console.print(counts)
    listed = Table("change", "kind", "question", "detail", title="changed records")
    rows: list[tuple[str, str, str, str]] = []
    for record in result.added[:LISTED]:
        rows.append(("added", record.kind, _short(record.question), record.split))
    for record in result.removed[:LISTED]:
        rows.append(("removed", record.kind, _short(record.question), record.split))
    for edit in result.edited[:LISTED]:
        what = []
        if edit.before.question != edit.after.question:
            what.append(f"question was: {_short(edit.before.question)}")
        if edit.before.answer != edit.after.answer:
            what.append(f"answer was: {_short(edit.before.answer)}")
        rows.append(("edited", edit.after.kind, _short(edit.after.question), "; ".join(what)))
    for moved in result.resplit_or_rehashed[:LISTED]:
        detail = (
            f"split {moved.before.split} → {moved.after.split}"
            if moved.before.split != moved.after.split
            else "same text, different record hash"
        )
        rows.append(("resplit/rehashed", moved.after.kind, _short(moved.after.question), detail))
    for row in rows:
        listed.add_row(*(escape(cell) for cell in row))
    console.print(listed)
    hidden = sum(
        max(0, len(group) - LISTED)
        for group in (result.added, result.removed, result.edited, result.resplit_or_rehashed)
    )
    if hidden:
        console.print(f"… and {hidden} more; --json lists every record")
