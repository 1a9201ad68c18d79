"""``draftgate export`` and ``draftgate audit``: the door out, and the proof of what went out."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from audit import (
    Audit,
    build_audit,
    render_html,
    render_markdown,
    render_terminal_summary,
)
from audit.integrity import check_integrity
from draftgate.config import Config
from draftgate.context import CommandError, config_of, docs_root, open_ledger, parse_kinds
from draftgate.exit_codes import ExitCode
from draftgate.output import add_json_option, print_json, progress_for
from export import (
    DEFAULT_MIN_EDIT_DISTANCE,
    EXPORT_FORMATS,
    MANIFEST_NAME,
    SPLITS,
    ExportError,
    ExportOptions,
    ExportRefused,
    ExportResult,
    export,
    parse_balance,
    recorded_exports,
)
from export.hub import CardFacts, HubPushError, dataset_card, push_export
from generator.userfiles import UserFileError, read_user_text
from ledger import Ledger
from ledger.progress import Progress
from ledger.text import visible

DEFAULT_EXPORTS_DIR = Path("outputs/exports")
DEFAULT_REPORTS_DIR = Path("outputs")
AUDIT_FORMATS = ("md", "html", "json")


def register(subparsers: Any) -> None:
    exp = subparsers.add_parser(
        "export",
        help="write signed-off drafts as training data (openai, sharegpt, alpaca, hf) or "
        "preference data (dpo, openai-dpo, kto)",
        description="Export every draft whose latest live decision is an approve or an edit by "
        "a named reviewer (edits with their final text), split into train/validation under "
        "data/, with trainer recipes (LLaMA-Factory dataset_info.json, axolotl.yaml) and a "
        "manifest.json that lists every record's hash. The export is recorded in the ledger. "
        "Nothing unsigned can be exported: there is no option for it. The preference formats "
        "pair a signed-off answer (chosen) with the drafted answer an edit replaced or a "
        "model's answer a probe or import brought in (rejected); kto labels signed-off "
        "answers true and answers a named reviewer rejected false.",
    )
    exp.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="openai",
        help="training-data format: openai (chat JSONL), sharegpt, alpaca, or hf (parquet + "
        "a datasets folder); preference data: dpo (TRL DPOTrainer), openai-dpo (OpenAI "
        "preference fine-tuning), kto (TRL KTOTrainer)",
    )
    exp.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: outputs/exports/<format>-<time>); must be new or empty, "
        "or hold an earlier export and --force",
    )
    exp.add_argument(
        "--eval-fraction",
        type=float,
        metavar="F",
        help="share of records held back in the validation split (default: config, 0.1)",
    )
    exp.add_argument("--seed", type=int, metavar="N", help="split seed (default: config, 0)")
    exp.add_argument("--kinds", metavar="K,K", help="only these kinds, e.g. qa,negative")
    exp.add_argument(
        "--include-stale",
        action="store_true",
        help="also export signed-off drafts whose source changed since they were drafted "
        "(left out by default; recorded in the manifest)",
    )
    exp.add_argument(
        "--system-prompt", metavar="TEXT|@FILE", help="system message for every example"
    )
    exp.add_argument(
        "--balance",
        metavar="SPEC",
        help="caps per kind (qa=500,negative=200) or a mix (qa=0.7,negative=0.3)",
    )
    exp.add_argument(
        "--hold-out",
        type=float,
        metavar="F",
        default=0.0,
        help="keep this share (0-1) of each kind out of train and eval, listed in the manifest, "
        "for 'draftgate probe' to ask a tuned model what it never trained on (default: 0)",
    )
    exp.add_argument(
        "--min-edit-distance",
        type=float,
        metavar="D",
        default=DEFAULT_MIN_EDIT_DISTANCE,
        help="dpo/openai-dpo: leave out pairs whose answers differ by less than this "
        f"normalised edit distance, 0-1 (default {DEFAULT_MIN_EDIT_DISTANCE}; 0 keeps all but "
        "identical ones); they are counted in the manifest",
    )
    exp.add_argument(
        "--push-to-hub",
        metavar="REPO",
        help="also upload the export (data, manifest.json, trainer recipes) to this Hugging Face "
        "dataset repo with a dataset card; the token comes from $HF_TOKEN or your "
        "huggingface_hub login",
    )
    exp.add_argument(
        "--private",
        action="store_true",
        help="with --push-to-hub: create the repo private (an existing repo keeps its visibility)",
    )
    add_json_option(exp, "the export's id, folder, files and counts")
    exp.add_argument(
        "--force", action="store_true", help="replace an earlier export in --out (its files only)"
    )
    exp.set_defaults(run=run_export)

    aud = subparsers.add_parser(
        "audit",
        help="integrity, provenance and quality report; exit 1 on any integrity break",
        description="Recompute every hash, check the decision chain still passes through every "
        "head recorded by earlier exports, re-read each export's files against its manifest and "
        "the ledger, list stale drafts, and report provenance and quality signals. Exits 1 "
        "naming each break. Without --export, the newest recorded export whose folder still "
        "exists is checked.",
    )
    aud.add_argument(
        "--export", action="append", metavar="DIR", default=[], help="export folder (repeatable)"
    )
    aud.add_argument(
        "--format",
        choices=AUDIT_FORMATS,
        default="md",
        help="report format: md, html or json (the terminal summary is always printed)",
    )
    aud.add_argument(
        "--out",
        metavar="PATH",
        help="report file, or - for stdout (the summary then goes to stderr) "
        "(default: outputs/audit-<time>.<format>)",
    )
    add_json_option(aud, "the verdict, breaks and the report's path")
    aud.add_argument(
        "--fast-decision-ms",
        type=int,
        metavar="N",
        help="decisions faster than this count as rubber-stamping (default: config, 2000)",
    )
    aud.set_defaults(run=run_audit)


# ---- export -------------------------------------------------------------------------------


def _system_prompt(value: str | None) -> str | None:
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return read_user_text(path).strip()
    except UserFileError as exc:
        raise CommandError(f"--system-prompt {value}: cannot read {path}: {exc}") from exc


def export_options(args: argparse.Namespace, config: Config) -> ExportOptions:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = (
        Path(args.out)
        if args.out
        else config.under_root(DEFAULT_EXPORTS_DIR) / f"{args.format}-{stamp}"
    )
    try:
        balance = parse_balance(args.balance) if args.balance else None
    except ExportError as exc:
        raise CommandError(str(exc)) from exc
    return ExportOptions(
        format=args.format,
        out_dir=out,
        eval_fraction=(
            config.export.eval_fraction if args.eval_fraction is None else args.eval_fraction
        ),
        seed=config.export.seed if args.seed is None else args.seed,
        kinds=parse_kinds(args.kinds),
        system_prompt=_system_prompt(args.system_prompt or config.export.system_prompt),
        balance=balance,
        include_stale=args.include_stale,
        hold_out=args.hold_out,
        min_edit_distance=args.min_edit_distance,
        force=args.force,
        command=shlex.join(["draftgate", *sys.argv[1:]]),
    )


def run_export(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.private and not args.push_to_hub:
        raise CommandError("--private goes with --push-to-hub")
    options = export_options(args, config)
    with open_ledger(args, config) as ledger:
        try:
            with progress_for(args, "exporting") as progress:
                result = export(ledger, options, progress)
        except ExportRefused as exc:
            raise CommandError(str(exc), ExitCode.INTEGRITY) from exc
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        # The card states the audit's verdict on exactly what is uploaded.
        facts = _card_facts(ledger, result, config) if args.push_to_hub else None
    if args.json:
        print_json(_export_json(result))
    else:
        _print_export(result)
    if args.push_to_hub and facts is not None:
        return _push_to_hub(result, args.push_to_hub, facts, private=args.private)
    return ExitCode.OK


def _export_json(result: ExportResult) -> dict[str, Any]:
    return {
        "export_id": result.export_id,
        "format": result.format,
        "out_dir": str(result.out_dir),
        "files": result.files,
        "record_count": result.record_count,
        "counts": result.counts,
        "empty_splits": result.left_out_splits,
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "stale_left_out": result.stale_left_out,
    }


def _print_export(result: ExportResult) -> None:
    console = Console()
    kinds = sorted({k for by_kind in result.counts.values() for k in by_kind})
    table = Table("split", *kinds, "total", title=f"exported {result.record_count} records")
    for split in SPLITS:
        row = result.counts.get(split, {})
        table.add_row(split, *(str(row.get(k, 0)) for k in kinds), str(sum(row.values())))
    console.print(table)
    console.print(f"format {result.format}, export {result.export_id}")
    console.print(f"files in {result.out_dir}: {', '.join(result.files)}")
    for split in result.left_out_splits:
        console.print(f"the {split} split is empty: no {split} file written (see {MANIFEST_NAME})")
    console.print(f"ledger head #{result.head_seq} {result.head_hash} recorded in {MANIFEST_NAME}")
    if result.held_out:
        held = ", ".join(f"{kind} {n}" for kind, n in sorted(result.held_out.items()))
        console.print(f"held out for probing (in no split, listed in {MANIFEST_NAME}): {held}")
    if result.stale_left_out:
        count = result.stale_left_out
        console.print(
            f"left out {count} stale record{'' if count == 1 else 's'} "
            "(source changed since drafted; --include-stale keeps them)"
        )
    if result.preference is not None:
        tally = result.preference
        sources = ", ".join(f"{n} from {s}" for s, n in tally["records_by_source"].items())
        console.print(f"preference records: {sources or 'none'}")
        if tally["left_out_close"]:
            console.print(
                f"left out {tally['left_out_close']} pair(s) whose answers differ by less than "
                f"{tally['min_edit_distance']} (--min-edit-distance)"
            )


def _card_facts(ledger: Ledger, result: ExportResult, config: Config) -> CardFacts:
    integrity = check_integrity(ledger, [result.out_dir])
    manifest = json.loads((result.out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    rows = integrity.provenance
    return CardFacts(
        manifest=manifest,
        license=config.export.license,
        audit_ok=integrity.ok,
        audit_breaks=len(integrity.breaks),
        drafted_by=dict(Counter(str(row["model"] or "unknown") for row in rows)),
        verdicts=dict(Counter(str(row["verdict"]) for row in rows)),
        reviewers=len({row["reviewer"] for row in rows}),
    )


def _push_to_hub(result: ExportResult, repo: str, facts: CardFacts, *, private: bool) -> int:
    try:
        card = dataset_card(repo, facts)
        url = push_export(result.out_dir, repo, card, private=private, export_id=result.export_id)
    # The export on disk is complete and recorded either way, so a failed upload is
    # "finished, some work failed": one line, exit 6.
    except HubPushError as exc:
        print(
            visible(
                f"draftgate: error: push to the Hub ({repo}) failed: {exc}; "
                f"the export in {result.out_dir} is complete"
            ),
            file=sys.stderr,
        )
        return ExitCode.INCOMPLETE
    print(f"pushed to the Hub: {repo} ({url})")
    return ExitCode.OK


# ---- audit --------------------------------------------------------------------------------


def _glossary_names(config: Config, docs: str) -> list[str]:
    from generator.scope import ScopeError, load_scope, scope_path_for

    path = scope_path_for(docs, config.scope)
    if not path.exists():
        return []
    try:
        return load_scope(path).glossary.names()
    except ScopeError as exc:
        # The glossary only feeds the phantom-reference signal; a bad scope file must not stop
        # the integrity check, so it is a warning here (`draftgate generate` refuses it).
        print(f"draftgate: warning: {exc}; phantom references use no glossary", file=sys.stderr)
        return []


def _default_export_dirs(ledger: Ledger) -> list[Path]:
    """The newest recorded export whose folder still exists (removing a whole export folder is
    tidying up; a folder left without its manifest is audited, and fails)."""
    for row in reversed(recorded_exports(ledger)):
        folder = Path(row["out_dir"])
        if folder.is_dir():
            return [folder]
    return []


def _audit_of(
    ledger: Ledger,
    export_dirs: list[Path],
    fast_ms: int,
    config: Config,
    glossary: list[str],
    progress: Progress,
) -> Audit:
    recorded = {Path(row["out_dir"]) for row in recorded_exports(ledger)}
    for folder in export_dirs:
        # A folder the ledger recorded an export in is audited even without its manifest
        # (a deleted manifest is a break, manifest_missing); any other is a typo.
        if not (folder / MANIFEST_NAME).is_file() and folder.resolve() not in recorded:
            raise CommandError(f"--export {folder}: no {MANIFEST_NAME} there (not an export)")
    return build_audit(
        ledger,
        export_dirs or _default_export_dirs(ledger),
        fast_decision_ms=fast_ms,
        target_mix=config.audit.target_mix,
        glossary_names=glossary,
        progress=progress,
    )


def run_audit(args: argparse.Namespace) -> int:
    config = config_of(args)
    fmt = args.format
    export_dirs = [Path(d) for d in args.export]
    for folder in export_dirs:
        if not folder.is_dir():
            raise CommandError(f"--export {folder}: no such folder")
    fast_ms = (
        config.audit.fast_decision_ms if args.fast_decision_ms is None else args.fast_decision_ms
    )
    glossary = _glossary_names(config, docs_root(args, config))
    with open_ledger(args, config, reads_only=True) as ledger:
        ledger_file = Path(ledger.path)
        recorded_dirs = [Path(row["out_dir"]) for row in recorded_exports(ledger)]
        # Checked before the audit runs, so a bad --out costs nothing.
        to_stdout = args.out == "-"
        if to_stdout and args.json:
            raise CommandError("--out - and --json both write to stdout; pick one")
        refuse_report_path(
            Path(args.out) if args.out and not to_stdout else None,
            ledger_file,
            [*export_dirs, *recorded_dirs],
        )
        # A page SQLite cannot read, met outside verify's own check, is a damaged ledger:
        # draftgate.cli.main says so in one line (exit 4).
        with progress_for(args, "auditing") as progress:
            audit = _audit_of(ledger, export_dirs, fast_ms, config, glossary, progress)
    if fmt == "json":
        text = audit.to_json()
    elif fmt == "md":
        text = render_markdown(audit)
    else:
        text = render_html(audit)
    code = ExitCode.OK if audit.integrity.ok else ExitCode.INTEGRITY
    if to_stdout:
        sys.stdout.write(text)
        _print_audit(audit, None, Console(stderr=True))
        return code
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = (
        Path(args.out)
        if args.out
        else config.under_root(DEFAULT_REPORTS_DIR) / f"audit-{stamp}.{fmt}"
    )
    refuse_report_path(out, ledger_file, [*export_dirs, *recorded_dirs])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot write the report: {exc.strerror}") from exc
    if args.json:
        print_json(
            {
                "integrity_ok": audit.integrity.ok,
                "breaks": [b.model_dump() for b in audit.integrity.breaks],
                "head_seq": audit.head.seq,
                "head_hash": audit.head.hash,
                "report": str(out),
                "format": fmt,
            }
        )
    else:
        _print_audit(audit, out, Console())
    return code


_SQLITE_HEADER = b"SQLite format 3\x00"


def refuse_report_path(out: Path | None, ledger_file: Path, export_dirs: list[Path]) -> None:
    """A report never replaces the ledger (or its -wal/-shm), another SQLite file, a manifest,
    or any file in an export folder: those are what the report vouches for."""
    if out is None:
        return
    try:
        target = out.resolve()
        ledger = ledger_file.resolve()
        if target in {ledger, *(ledger.with_name(ledger.name + s) for s in _SQLITE_SIDE_FILES)}:
            raise CommandError(f"--out {out} is the ledger; pick a report file of its own")
        if target.name == MANIFEST_NAME:
            raise CommandError(f"--out {out} would replace an export manifest; pick another")
        for folder in export_dirs:
            if target.is_relative_to(folder.resolve()):
                raise CommandError(f"--out {out} is inside the export {folder}; pick another")
        if (target.parent / MANIFEST_NAME).is_file():
            raise CommandError(f"--out {out} is inside an export folder; pick another")
        if target.is_file():
            with open(target, "rb") as handle:
                if handle.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER:
                    raise CommandError(f"--out {out} is an SQLite database; pick a report file")
        if target.is_dir():
            raise CommandError(f"--out {out} is a folder; name a report file")
    except OSError as exc:
        raise CommandError(f"--out {out}: {exc.strerror or exc}") from exc


_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _print_audit(audit: Audit, out: Path | None, console: Console) -> None:
    """The terminal summary; with the report on stdout (``out`` None) it all goes to stderr."""
    integrity = audit.integrity
    for line in render_terminal_summary(audit):
        console.print(line)
    # Breaks are always named one per line on stdout, whatever the renderer prints.
    for item in integrity.breaks:
        # A ref can be a file name found in an export folder: shown, never obeyed.
        console.print(visible(f"BREAK {item.kind}: {item.ref}: {item.detail}"), markup=False)
    verdict = (
        "[green]integrity OK[/]"
        if integrity.ok
        else (f"[red]integrity FAILED: {len(integrity.breaks)} break(s)[/]")
    )
    where = "report written to stdout" if out is None else f"report written to {out}"
    console.print(f"{verdict}; {where}")
