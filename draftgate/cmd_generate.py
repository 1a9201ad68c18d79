"""``draftgate generate``: draft examples from the ingested chunks through an LLM endpoint,
or with the built-in rules drafter when no endpoint is configured."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import asdict
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from draftgate.config import Config, GenerateConfig, ledger_path
from draftgate.context import CommandError, config_of, docs_root, open_ledger
from draftgate.exit_codes import ExitCode
from draftgate.output import add_json_option, print_json
from generator import pipeline
from generator.errors import EndpointError, GenerateError, NoChunksError, SettingsError
from generator.kinds import KIND_NAMES
from generator.pipeline import RunProgress, RunSummary
from generator.scope import Scope, ScopeError, load_scope, scope_path_for
from generator.settings import MODE_CHOICES, GenerateSettings
from generator.workers import run_pool


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="draft Q&As, negatives, adversarials and clarify drafts from the ingested docs",
        description="Draft examples from every ingested chunk. With OPENAI_API_KEY and/or "
        "OPENAI_BASE_URL (or [generate] base_url) set, an OpenAI-compatible endpoint drafts "
        "them through structured calls; otherwise the built-in rules drafter does. Finished "
        "jobs are skipped on a rerun, so an interrupted run can simply be started again.",
    )
    parser.add_argument("--kinds", help=f"comma-separated kinds (default: {','.join(KIND_NAMES)})")
    parser.add_argument("--per-chunk", type=int, metavar="N", help="drafts per chunk and kind")
    parser.add_argument("--model", help="model name (default: [generate] model)")
    parser.add_argument("--concurrency", type=int, metavar="N", help="calls in flight at once")
    parser.add_argument("--limit", type=int, metavar="N", help="run at most N jobs")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=1,
        help="draft with N processes on this ledger, each with its share of --concurrency "
        "and of the rpm/tpm budgets (default 1); worth it past ~100 calls in flight",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the jobs and an estimate of calls and tokens; write nothing",
    )
    parser.add_argument("--rpm", type=int, metavar="N", help="requests-per-minute budget")
    parser.add_argument("--tpm", type=int, metavar="N", help="tokens-per-minute budget")
    parser.add_argument(
        "--mode",
        choices=MODE_CHOICES,
        help="structured-output mode; auto (the default, [generate] mode) uses the mode "
        "`draftgate check` finds working, cached beside the ledger in endpoint-modes.json",
    )
    parser.add_argument(
        "--max-tokens-per-draft",
        type=int,
        metavar="N",
        help="completion budget per requested draft: each call sends max_tokens = drafts "
        "asked x N (default: [generate] max_tokens_per_draft, 600)",
    )
    parser.add_argument(
        "--batch", action="store_true", help="use the OpenAI Batch API (half the cost; resumable)"
    )
    parser.add_argument(
        "--redraft-rejected",
        action="store_true",
        help="draft again for chunks whose drafts reviewers rejected, with their reasons and "
        "notes in the prompt; each new draft links to the drafts it replaces (LLM only)",
    )
    parser.add_argument("--scope", metavar="PATH", help="scope file (default: <docs>/scope.toml)")
    add_json_option(parser, "the run's summary (or the dry run's plan)")
    parser.set_defaults(run=run_generate)


def effective_settings(args: argparse.Namespace, config: Config) -> GenerateSettings:
    """The [generate] config with command-line flags and the endpoint's environment applied
    (validated the same way)."""
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be at least 1")
    base = config.generate.model_dump()
    overrides = {
        "model": args.model,
        "concurrency": args.concurrency,
        "per_chunk": args.per_chunk,
        "mode": args.mode,
        "max_tokens_per_draft": args.max_tokens_per_draft,
        "rpm": args.rpm,
        "tpm": args.tpm,
    }
    if args.kinds:
        overrides["kinds"] = [k.strip() for k in args.kinds.split(",") if k.strip()]
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        checked = GenerateConfig.model_validate(base)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise CommandError(f"bad option {option}: {first['msg']}") from exc
    return GenerateSettings(
        **{
            **checked.model_dump(),
            "kinds": tuple(checked.kinds),
            "base_url": os.environ.get("OPENAI_BASE_URL") or checked.base_url,
            "api_key": os.environ.get("OPENAI_API_KEY"),
            "limit": args.limit,
            "batch": args.batch,
            "redraft_rejected": args.redraft_rejected,
        }
    )


def _scope_of(args: argparse.Namespace, config: Config) -> Scope:
    try:
        return load_scope(scope_path_for(docs_root(args, config), args.scope or config.scope))
    except ScopeError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc


def run_generate(args: argparse.Namespace) -> int:
    # instructor logs every failed attempt at ERROR; the summary table reports failures, and a
    # traceback-like line per retry on stderr would bury it. --verbose shows them all.
    verbose = getattr(args, "verbose", False)
    logging.getLogger("instructor").setLevel(logging.NOTSET if verbose else logging.CRITICAL)
    if verbose:
        args.quiet = True  # log lines would tear the progress bar apart
    config = config_of(args)
    try:
        settings = effective_settings(args, config)
    except SettingsError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    scope = _scope_of(args, config)
    with open_ledger(args, config, read_only=args.dry_run) as ledger:
        try:
            if settings.redraft_rejected and not settings.uses_llm:
                # Nothing to draft or estimate: say what is left, as a real run would.
                from generator.redraft import rules_skip_message

                print(f"draftgate: {rules_skip_message(ledger, settings.kinds)}", file=sys.stderr)
                return ExitCode.OK
            if args.dry_run and not settings.uses_llm:
                plan = pipeline.rules_plan(ledger, scope, settings)
                if args.json:
                    print_json(
                        {
                            "dry_run": True,
                            "drafter": "rules",
                            **asdict(plan.summary),
                            "drafts_by_document": plan.drafts_by_document,
                        }
                    )
                else:
                    _print_rules_plan(plan)
                return ExitCode.OK
            if args.dry_run:
                estimate = pipeline.estimate(ledger, scope, settings)
                if args.json:
                    print_json(_estimate_json(estimate, settings))
                else:
                    _print_estimate(estimate, settings)
                return ExitCode.OK
            if settings.redraft_rejected and settings.uses_llm:
                from generator.redraft import describe_rejections, find_rejections

                found = find_rejections(ledger, settings.kinds)
                print(f"draftgate: {describe_rejections(found)}", file=sys.stderr)
            if not settings.uses_llm and args.workers == 1:
                print(
                    "draftgate: no LLM endpoint configured (OPENAI_API_KEY/OPENAI_BASE_URL "
                    "unset); drafting with the built-in rules drafter",
                    file=sys.stderr,
                )
            if args.workers != 1:
                summary = run_pool(
                    ledger, scope, settings, args.workers, _ProgressBar(args.quiet), verbose=verbose
                )
            else:
                summary = pipeline.run(ledger, scope, settings, _ProgressBar(args.quiet))
        except NoChunksError as exc:
            raise CommandError(
                f"no ingested docs in {ledger_path(args.ledger, config)}; run `draftgate ingest`"
            ) from exc
        except EndpointError as exc:
            raise CommandError(str(exc), ExitCode.ENDPOINT) from exc
        except GenerateError as exc:
            raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    if args.json:
        print_json({"dry_run": False, **asdict(summary)})
    else:
        _print_summary(summary)
        _print_dropped_drafts(summary.dropped_drafts)
    if summary.interrupted:
        print(
            "draftgate: interrupted; the calls in flight finished and everything finished is "
            "kept in the ledger; rerun `draftgate generate` to draft the rest",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
    failed = sum(summary.calls_failed.values())
    if failed:
        print(
            f"draftgate: {failed} call(s) failed; rerun "
            "`draftgate generate` to retry them (finished jobs are skipped)",
            file=sys.stderr,
        )
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def _estimate_json(estimate: pipeline.Estimate, settings: GenerateSettings) -> dict[str, Any]:
    return {
        "dry_run": True,
        "drafter": "llm",
        "model": settings.model,
        "mode": estimate.mode,
        "calls": len(estimate.jobs),
        "jobs_skipped": estimate.plan.skipped_finished,
        "prompt_tokens": estimate.prompt_tokens,
        "completion_tokens": estimate.completion_tokens,
        "total_tokens": estimate.total_tokens,
        "cost": estimate.cost,
        "jobs": [
            {
                "key": job.key,
                "document": job.document_path,
                "lines": [job.chunk.start_line, job.chunk.end_line],
                "kind": job.kind,
                "subtype": job.subtype,
                "drafts": job.count,
                "estimated_tokens": job.estimated_tokens,
            }
            for job in estimate.jobs
        ],
    }


def _print_rules_plan(rules: pipeline.RulesPlan) -> None:
    """The offline dry run: the rules drafter drafted in memory, so the counts are exact."""
    plan = rules.summary
    console = Console()
    console.print(
        "no LLM endpoint is configured (OPENAI_API_KEY/OPENAI_BASE_URL unset): "
        "`draftgate generate` would run the built-in rules drafter, at no cost"
    )
    kinds = sorted(plan.drafts_by_kind)
    table = Table("document", *kinds, "total", title=f"{plan.calls_ok} rules jobs to run")
    for path, by_kind in sorted(rules.drafts_by_document.items()):
        counts = [str(by_kind.get(kind, 0)) for kind in kinds]
        # A file name is text, not rich markup.
        table.add_row(escape(path), *counts, str(sum(by_kind.values())))
    table.add_row(
        "all", *(str(plan.drafts_by_kind[k]) for k in kinds), str(sum(plan.drafts_by_kind.values()))
    )
    console.print(table)
    drafted = sum(plan.drafts_by_kind.values())
    console.print(
        f"would draft {drafted} of {plan.drafts_requested} requested; "
        f"{plan.jobs_skipped} jobs already finished are skipped; nothing written"
    )
    if plan.dropped:
        reasons = ", ".join(f"{escape(r)} {n}" for r, n in sorted(plan.dropped.items()))
        console.print(f"not drafted: {reasons}")


def _print_estimate(estimate: pipeline.Estimate, settings: GenerateSettings) -> None:
    console = Console()
    table = Table(
        "job",
        "document",
        "lines",
        "kind",
        "drafts",
        "est. tokens",
        title=f"{len(estimate.jobs)} jobs ({estimate.plan.skipped_finished} already finished)",
    )
    for job in estimate.jobs:
        kind = job.kind + (f"/{job.subtype}" if job.subtype else "")
        table.add_row(
            job.key[3:15],
            escape(job.document_path),  # a file name is text, not rich markup
            f"{job.chunk.start_line}-{job.chunk.end_line}",
            kind,
            str(job.count),
            str(job.estimated_tokens),
        )
    console.print(table)
    console.print(
        f"estimate: {len(estimate.jobs)} calls, ~{estimate.total_tokens} tokens "
        f"(~{estimate.prompt_tokens} in, ~{estimate.completion_tokens} out), "
        f"~${estimate.cost:.4f} at the configured prices; model {settings.model}; "
        f"mode {estimate.mode}; nothing written"
    )
    if not estimate.uses_llm:
        console.print("(no endpoint is configured: a real run would use the rules drafter)")


class _ProgressBar:
    """The run's progress on stderr (a ``pipeline.RunObserver``); nothing when quiet."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def started(self, description: str, total: int | None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=Console(stderr=True),
            disable=self._quiet,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, info="")

    def advanced(self, progress: RunProgress) -> None:
        if self._progress is None or self._task is None:
            return
        info = ""
        if progress.tokens is not None and progress.cost is not None:
            info = f"{progress.tokens} tok ~${progress.cost:.4f} failed {progress.calls_failed}"
        self._progress.update(self._task, completed=progress.done, total=progress.total, info=info)

    def finished(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def ledger_busy(self, wait_s: float) -> None:
        message = (
            "draftgate: another process is writing the ledger; finished calls and new "
            f"jobs wait for it (up to {wait_s:g} s)"
        )
        if self._progress is not None:
            self._progress.console.print(message)
        else:
            Console(stderr=True).print(message)

    def message(self, text: str) -> None:
        print(f"draftgate: {text}", file=sys.stderr)


# The summary lists this many dropped candidates; all of them stay in their calls' records.
DROPPED_SHOWN = 40


def _print_dropped_drafts(dropped: list[dict[str, str]]) -> None:
    """Each candidate a drafter dropped (not the per-chunk overflow): what, why, and where in
    the docs the text that decided it is, so a reviewer can check the decision."""
    listed = [d for d in dropped if d.get("reason") != "per_chunk_full"]
    if not listed:
        return
    table = Table("kind", "feature or name", "reason", "where", title="dropped candidates")
    for item in listed[:DROPPED_SHOWN]:
        table.add_row(item["kind"], item["name"], item["reason"], item.get("at", ""))
    if len(listed) > DROPPED_SHOWN:
        table.add_row("…", f"{len(listed) - DROPPED_SHOWN} more in the calls' records", "", "")
    Console().print(table)


def _print_summary(summary: RunSummary) -> None:
    """The run's counts: requested = stored + dropped + failed, each from the ledger's rows."""
    console = Console()
    table = Table("", "count", title="generation summary")
    if summary.mode is not None:
        table.add_row("mode", summary.mode)
    table.add_row("calls ok", str(summary.calls_ok))
    for reason, n in sorted(summary.calls_failed.items()):
        table.add_row(f"calls failed: {reason}", str(n))
    if summary.jobs_skipped:
        table.add_row("jobs skipped (already finished)", str(summary.jobs_skipped))
    if summary.jobs_left_to_other_runs:
        table.add_row(
            "jobs left to other runs (finished or claimed there)",
            str(summary.jobs_left_to_other_runs),
        )
    table.add_row("drafts requested", str(summary.drafts_requested))
    table.add_row("drafts failed (with their calls)", str(summary.drafts_failed))
    for kind, n in sorted(summary.drafts_by_kind.items()):
        table.add_row(f"drafts stored: {kind}", str(n))
    for reason, n in sorted(summary.dropped.items()):
        table.add_row(f"drafts dropped: {reason}", str(n))
    table.add_row("tokens in / out", f"{summary.prompt_tokens} / {summary.completion_tokens}")
    table.add_row("estimated cost", f"${summary.cost:.4f}")
    console.print(table)
