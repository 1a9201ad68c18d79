"""``draftgate ingest``, ``status`` and ``verify``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from draftgate.context import CommandError, config_of, open_ledger
from draftgate.docs_findings import ai_addressed_warning, status_json, status_lines
from draftgate.exit_codes import ExitCode
from draftgate.output import add_json_option, print_json, progress_for
from draftgate.text_table import text_table
from ledger import DraftStatus, verify


def register(subparsers: Any) -> None:
    ingest = subparsers.add_parser(
        "ingest",
        help="read a docs folder into the ledger (Markdown and .txt)",
        description="Read Markdown and plain-text files into the ledger, chunked by heading. "
        "Unchanged files are skipped; a changed file's old drafts become stale. Binary, empty, "
        "non-UTF-8 and oversized files are skipped with one warning each.",
    )
    ingest.add_argument("docs_dir", nargs="?", help="docs folder (default: the config's docs)")
    add_json_option(ingest, "the counts, warnings and flagged text")
    ingest.set_defaults(run=run_ingest)

    status = subparsers.add_parser(
        "status",
        help="counts of documents, chunks, drafts, decisions",
        description="Counts of documents, chunks and drafts (by kind and review status), "
        "decisions and generation calls, the decision chain's head, and what the drafters "
        "dropped or flagged in the docs. Reads only; safe while others review.",
    )
    add_json_option(status, "the counts")
    status.set_defaults(run=run_status)

    verify_parser = subparsers.add_parser(
        "verify",
        help="recompute every hash and walk the decision chain",
        description="Exit 0 when the ledger is intact; otherwise exit 1 with one line per break.",
    )
    add_json_option(verify_parser, "the verdict and every break")
    verify_parser.set_defaults(run=run_verify)


def run_ingest(args: argparse.Namespace) -> int:
    # Imported here: the Markdown parser is not needed by `status` and `verify`.
    from generator.ingest import DocsFolderError, check_docs_folder, ingest_folder

    config = config_of(args)
    docs_dir = args.docs_dir or config.docs
    try:
        # Checked before the ledger is opened, so a mistyped folder creates no ledger file.
        check_docs_folder(docs_dir)
    except DocsFolderError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    with open_ledger(args, config, create=True) as ledger:
        try:
            with progress_for(args, "ingesting") as progress:
                report = ingest_folder(ledger, docs_dir, progress=progress)
        except DocsFolderError as exc:
            raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    chunks = sum(o.chunk_count for o in report.outcomes)
    if args.json:
        print_json(
            {
                "documents": len(report.outcomes),
                "chunks": chunks,
                **{state: report.count(state) for state in ("new", "changed", "unchanged")},
                "removed": len(report.removed),
                "skipped": len(report.warnings),
                "warnings": report.warnings,
                "replaced_root": report.replaced_root,
                "ai_addressed_text": [
                    {"at": f.at, "document": f.document, "line": f.line, "sentence": f.sentence}
                    for flags in report.ai_addressed.values()
                    for f in flags
                ],
            }
        )
        return ExitCode.OK
    for warning in report.warnings:
        print(f"draftgate: warning: {warning}", file=sys.stderr)
    for flags in report.ai_addressed.values():
        print(f"draftgate: warning: {ai_addressed_warning(flags)}", file=sys.stderr)
    if report.replaced_root is not None:
        # One ledger holds one product's docs: say plainly whose documents were replaced.
        print(
            f"replaced the documents ingested from {report.replaced_root} "
            f"({len(report.removed)} no longer present)"
        )
    print(
        f"ingested {len(report.outcomes)} documents ({chunks} chunks): "
        f"{report.count('new')} new, {report.count('changed')} changed, "
        f"{report.count('unchanged')} unchanged, {len(report.removed)} removed, "
        f"{len(report.warnings)} skipped"
    )
    return ExitCode.OK


def run_status(args: argparse.Namespace) -> int:
    config = config_of(args)
    with open_ledger(args, config, reads_only=True) as ledger:
        report = ledger.status()
        dropped = ledger.dropped_candidates()
        flags = ledger.ai_addressed_text()
    if args.json:
        value = {**report.as_dict(), **status_json(dropped, flags)}
        print_json(value)
        return ExitCode.OK
    # Plain print, not rich: `status` is the command people run most, and rich's import and
    # layout were a sixth of its start-up.
    print(
        f"{report.documents} documents ({report.documents_removed} removed), "
        f"{report.chunks} chunks, {report.drafts} drafts"
    )
    print(
        f"drafts: {report.pending} pending, {report.drafts - report.pending} decided; "
        f"{report.stale} stale, {report.stale_pending} of them pending"
    )
    statuses = [s.value for s in DraftStatus]
    if report.drafts_by_kind:
        rows = [
            [kind, *(counts.get(s, 0) for s in statuses), sum(counts.values())]
            for kind, counts in sorted(report.drafts_by_kind.items())
        ]
        table = text_table(["kind", *statuses, "total"], rows, title="drafts by kind and status")
        print("\n".join(table))
    else:
        # An empty table reads like a rendering fault; say plainly there is nothing yet.
        print("drafts: none yet")
    if report.drafts_by_origin:
        print(
            "drafts by origin: "
            + ", ".join(
                f"{origin} {sum(counts.values())}"
                f" ({counts.get(DraftStatus.PENDING.value, 0)} pending)"
                for origin, counts in sorted(report.drafts_by_origin.items())
            )
        )
    decisions = ", ".join(f"{v} {k}" for k, v in sorted(report.decisions.items())) or "none"
    calls = ", ".join(f"{v} {k}" for k, v in sorted(report.calls.items())) or "none"
    print(f"decisions: {decisions}; chain head #{report.head_seq} {report.head_hash}")
    print(f"generation calls: {calls}")
    print("\n".join(status_lines(dropped, flags)))
    return ExitCode.OK


def run_verify(args: argparse.Namespace) -> int:
    config = config_of(args)
    with open_ledger(args, config, reads_only=True) as ledger:
        with progress_for(args, "verifying") as progress:
            breaks = verify(ledger, progress)
        head = ledger.head()
    if args.json:
        print_json(
            {
                "intact": not breaks,
                "decisions": head.seq,
                "head_hash": head.hash,
                "breaks": [{"kind": b.kind, "ref": b.ref, "detail": b.detail} for b in breaks],
            }
        )
        return ExitCode.INTEGRITY if breaks else ExitCode.OK
    if breaks:
        for item in breaks:
            print(item.line())
        print(f"draftgate: ledger has {len(breaks)} break(s)", file=sys.stderr)
        return ExitCode.INTEGRITY
    print(f"ledger intact: {head.seq} decisions, chain head {head.hash}")
    return ExitCode.OK
