"""``draftgate probe``: ask a tuned model an export's eval and held-out questions, judge each
answer against the signed-off reference, store the run, and send failures back to review."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console

from draftgate.config import Config, ProbeConfig
from draftgate.context import CommandError, config_of, docs_root, open_ledger, parse_kinds
from draftgate.exit_codes import ExitCode
from draftgate.output import add_json_option, print_json, progress_for

if TYPE_CHECKING:
    from probe import ProbeOptions, ProbeReport

REPORT_FORMATS = ("md", "html", "json")
DEFAULT_REPORTS_DIR = Path("outputs")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="ask a tuned model an export's eval and held-out questions; failures go to review",
        description="Ask a model (any OpenAI-compatible endpoint: --base-url, [probe] "
        "base_url or OPENAI_BASE_URL; key in OPENAI_API_KEY) every signed-off question of an "
        "export's validation split and every draft the export held out (export --hold-out), "
        "as plain chat completions with the export's system prompt. Each answer is judged in code "
        "against the signed answer, by kind, with the reasons stored; --judge adds an LLM "
        "verdict beside it. The run is stored in the ledger, linked to the export and its "
        "manifest hash, a report is written, and every failed probe becomes a draft in the "
        "review queue (origin probe).",
    )
    parser.add_argument(
        "--export",
        metavar="ID|DIR",
        help="export id or folder (default: the newest recorded export whose folder exists)",
    )
    parser.add_argument("--model", help="model under test (default: [probe] model)")
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="endpoint (default: [probe] base_url, else $OPENAI_BASE_URL, else [generate] "
        "base_url)",
    )
    parser.add_argument(
        "--judge",
        metavar="MODEL",
        help="also ask this model for a verdict (stored beside the code's)",
    )
    parser.add_argument("--concurrency", type=int, metavar="N", help="questions in flight at once")
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds per request")
    parser.add_argument(
        "--kinds", metavar="K,K", help="only probes of these kinds, e.g. negative,adversarial"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="ask at most N probes")
    parser.add_argument(
        "--min-pass",
        type=float,
        metavar="F",
        help=f"exit {int(ExitCode.BELOW_MIN_PASS)} when the pass rate (0-1) is below F (for CI)",
    )
    parser.add_argument(
        "--no-drafts",
        action="store_true",
        help="store the run and report it, but send no failure to the review queue",
    )
    parser.add_argument("--format", choices=REPORT_FORMATS, default="md", help="report format")
    parser.add_argument("--out", metavar="PATH", help="report file (default: outputs/probe-<time>)")
    add_json_option(parser, "the run's report (as --format json writes it)")
    parser.set_defaults(run=run_probe_command)


def probe_settings(args: argparse.Namespace, config: Config) -> ProbeConfig:
    """[probe] with the command-line flags applied, validated the same way."""
    base = config.probe.model_dump()
    overrides = {
        "model": args.model,
        "base_url": args.base_url,
        "concurrency": args.concurrency,
        "timeout_s": args.timeout,
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ProbeConfig.model_validate(base)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_s", "").replace("_", "-")
        raise CommandError(f"bad option {option}: {first['msg']}") from exc


def probe_options(args: argparse.Namespace, config: Config) -> ProbeOptions:
    # The LLM libraries load only for a probe run, never for `draftgate --help`.
    from generator.client import ClientSettings
    from generator.settings import STRUCTURED_MODES
    from probe import AskSettings, JudgeSettings, ProbeOptions

    settings = probe_settings(args, config)
    if not settings.model:
        raise CommandError("name the model under test: --model NAME or [probe] model")
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be at least 1")
    if args.min_pass is not None and not 0 <= args.min_pass <= 1:
        raise CommandError("--min-pass must be between 0 and 1")
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL") or config.generate.base_url
    api_key = os.environ.get("OPENAI_API_KEY")
    if not (base_url or api_key):
        raise CommandError(
            "no endpoint configured: set OPENAI_BASE_URL (or --base-url, [probe] base_url) "
            "and/or OPENAI_API_KEY",
            ExitCode.ENDPOINT,
        )
    ask = AskSettings(
        base_url=base_url,
        api_key=api_key,
        model=settings.model,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        concurrency=settings.concurrency,
        timeout_s=settings.timeout_s,
        max_attempts=settings.max_attempts,
        backoff_initial_s=settings.backoff_initial_s,
        backoff_max_s=settings.backoff_max_s,
    )
    judge = None
    if args.judge:
        gen = config.generate
        judge = ClientSettings(
            base_url=base_url,
            api_key=api_key,
            model=args.judge,
            # A concrete [generate] mode; "auto" (which probes the endpoint first) means tools.
            mode=gen.mode if gen.mode in STRUCTURED_MODES else "tools",
            temperature=0.0,
            timeout_s=settings.timeout_s,
            max_attempts=settings.max_attempts,
            max_reasks=gen.max_reasks,
            backoff_initial_s=settings.backoff_initial_s,
            backoff_max_s=settings.backoff_max_s,
        )
    return ProbeOptions(
        ask=ask,
        export_ref=args.export,
        judge=judge,
        rules=JudgeSettings(
            min_fact_share=settings.min_fact_share, min_help_share=settings.min_help_share
        ),
        kinds=parse_kinds(args.kinds),
        limit=args.limit,
        make_drafts=not args.no_drafts,
        known_names=tuple(_glossary_names(args, config)),
    )


def _glossary_names(args: argparse.Namespace, config: Config) -> list[str]:
    from generator.scope import ScopeError, load_scope, scope_path_for

    path = scope_path_for(docs_root(args, config), config.scope)
    if not path.exists():
        return []
    try:
        return load_scope(path).glossary.names()
    except ScopeError as exc:
        # The glossary only spares real names from the phantom check; a bad scope file must
        # not stop the probe (`draftgate generate` refuses it).
        print(f"draftgate: warning: {exc}; phantom UI names use no glossary", file=sys.stderr)
        return []


def run_probe_command(args: argparse.Namespace) -> int:
    from probe import ProbeError, ProbeRefused, render_terminal, run_probe, verdict_line

    verbose = getattr(args, "verbose", False)
    logging.getLogger("instructor").setLevel(logging.NOTSET if verbose else logging.CRITICAL)
    config = config_of(args)
    options = probe_options(args, config)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else DEFAULT_REPORTS_DIR / f"probe-{stamp}.{args.format}"
    if out.is_dir():
        raise CommandError(f"--out {out} is a folder; name a report file")
    with open_ledger(args, config) as ledger:
        try:
            with progress_for(args, "probing") as progress:
                report = run_probe(ledger, options, progress)
        except ProbeRefused as exc:
            raise CommandError(str(exc), ExitCode.INTEGRITY) from exc
        except ProbeError as exc:
            raise CommandError(str(exc)) from exc
    text = _render(report, args.format, args.min_pass)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot write the report: {exc.strerror}") from exc
    ok, verdict = verdict_line(report, args.min_pass)
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        console = Console()
        for line in render_terminal(report):
            console.print(line)
        console.print(f"{verdict}; report written to {out}")
    if args.min_pass is not None and not ok:
        print(f"draftgate: {verdict}", file=sys.stderr)
        return ExitCode.BELOW_MIN_PASS
    if report.totals.errors:
        print(
            f"draftgate: {report.totals.errors} probe call(s) failed; they count in no pass rate",
            file=sys.stderr,
        )
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def _render(report: ProbeReport, fmt: str, min_pass: float | None) -> str:
    from probe import render_html, render_markdown

    if fmt == "json":
        return report.to_json()
    if fmt == "html":
        return render_html(report, min_pass)
    return render_markdown(report, min_pass)
