"""``draftgate generate``: draft examples from the ingested chunks through an LLM endpoint,
or with the built-in rules drafter when no endpoint is configured."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from draftgate.config import Config, GenerateConfig, ledger_path
from draftgate.context import CommandError, config_of, open_ledger
from draftgate.exit_codes import ExitCode
from generator.rules import run_rules_drafter
from generator.scope import Scope, ScopeError, load_scope, scope_path_for

KINDS = ("qa", "negative", "adversarial", "clarify")
MODES = ("tools", "json_schema", "json", "md_json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="draft Q&As, negatives, adversarials and clarify drafts from the ingested docs",
        description="Draft examples from every ingested chunk. With OPENAI_API_KEY and/or "
        "OPENAI_BASE_URL (or [generate] base_url) set, an OpenAI-compatible endpoint drafts "
        "them through structured calls; otherwise the built-in rules drafter does. Finished "
        "jobs are skipped on a rerun, so an interrupted run can simply be started again.",
    )
    parser.add_argument("--kinds", help=f"comma-separated kinds (default: {','.join(KINDS)})")
    parser.add_argument("--per-chunk", type=int, metavar="N", help="drafts per chunk and kind")
    parser.add_argument("--model", help="model name (default: [generate] model)")
    parser.add_argument("--concurrency", type=int, metavar="N", help="calls in flight at once")
    parser.add_argument("--limit", type=int, metavar="N", help="run at most N jobs")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the jobs and an estimate of calls and tokens; write nothing",
    )
    parser.add_argument("--rpm", type=int, metavar="N", help="requests-per-minute budget")
    parser.add_argument("--tpm", type=int, metavar="N", help="tokens-per-minute budget")
    parser.add_argument(
        "--mode", choices=MODES, help="structured-output mode (default: [generate] mode, tools)"
    )
    parser.add_argument(
        "--batch", action="store_true", help="use the OpenAI Batch API (half the cost; resumable)"
    )
    parser.add_argument("--scope", metavar="PATH", help="scope file (default: <docs>/scope.toml)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_generate)


def effective_settings(args: argparse.Namespace, config: Config) -> GenerateConfig:
    """The [generate] config with command-line flags applied (validated the same way)."""
    base = config.generate.model_dump()
    overrides = {
        "model": args.model,
        "concurrency": args.concurrency,
        "per_chunk": args.per_chunk,
        "mode": args.mode,
        "rpm": args.rpm,
        "tpm": args.tpm,
    }
    if args.kinds:
        overrides["kinds"] = [k.strip() for k in args.kinds.split(",") if k.strip()]
    base.update({k: v for k, v in overrides.items() if v is not None})
    settings = GenerateConfig.model_validate(base)
    unknown = [k for k in settings.kinds if k not in KINDS]
    if unknown or not settings.kinds:
        raise CommandError(
            f"unknown kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(KINDS)}"
        )
    if settings.mode not in MODES:
        raise CommandError(f"unknown mode {settings.mode!r}; choose from {', '.join(MODES)}")
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be at least 1")
    return settings


def _scope_of(args: argparse.Namespace, config: Config) -> Scope:
    try:
        return load_scope(scope_path_for(config.docs, args.scope or config.scope))
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
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise CommandError(f"bad option {option}: {first['msg']}") from exc
    scope = _scope_of(args, config)
    base_url = os.environ.get("OPENAI_BASE_URL") or settings.base_url
    api_key = os.environ.get("OPENAI_API_KEY")
    with open_ledger(args, config, read_only=args.dry_run) as ledger:
        if not ledger.current_chunks():
            raise CommandError(
                f"no ingested docs in {ledger_path(args.ledger, config)}; run `draftgate ingest`"
            )
        if not base_url and not api_key:
            if args.dry_run:
                return _dry_run(args, settings, scope, ledger, offline=True)
            return _run_offline(args, settings, scope, ledger)
        if args.dry_run:
            return _dry_run(args, settings, scope, ledger, offline=False)
        return _run_llm(args, settings, scope, ledger, base_url, api_key)


def _prompt_set(settings: GenerateConfig) -> Any:
    from generator.prompts import PromptsError, PromptSet

    prompts = PromptSet(Path(settings.prompts) if settings.prompts else None)
    try:
        prompts.check(settings.kinds)
    except PromptsError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    return prompts


def _generation_params(settings: GenerateConfig) -> dict[str, Any]:
    """What, besides the model and the template, decides a job's output (part of its key)."""
    return {"temperature": settings.temperature, "mode": settings.mode}


def _plan(args: argparse.Namespace, settings: GenerateConfig, scope: Scope, ledger: Any) -> Any:
    from generator.prompts import PromptsError
    from generator.runner import plan_jobs

    try:
        return plan_jobs(
            ledger,
            scope,
            _prompt_set(settings),
            kinds=settings.kinds,
            per_chunk=settings.per_chunk,
            model=settings.model,
            params=_generation_params(settings),
            limit=args.limit,
        )
    except PromptsError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc


def _dry_run(
    args: argparse.Namespace, settings: GenerateConfig, scope: Scope, ledger: Any, *, offline: bool
) -> int:
    plan = _plan(args, settings, scope, ledger)
    console = Console()
    table = Table(
        "job",
        "document",
        "lines",
        "kind",
        "drafts",
        "est. tokens",
        title=f"{len(plan.jobs)} jobs ({plan.skipped_finished} already finished)",
    )
    for job in plan.jobs:
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
    prompt_tokens = sum(j.estimated_prompt_tokens for j in plan.jobs)
    total_tokens = sum(j.estimated_tokens for j in plan.jobs)
    cost = (
        prompt_tokens * settings.price_in_per_mtok
        + (total_tokens - prompt_tokens) * settings.price_out_per_mtok
    ) / 1e6
    console.print(
        f"estimate: {len(plan.jobs)} calls, ~{total_tokens} tokens "
        f"(~{prompt_tokens} in, ~{total_tokens - prompt_tokens} out), ~${cost:.4f} "
        f"at the configured prices; model {settings.model}; nothing written"
    )
    if offline:
        console.print("(no endpoint is configured: a real run would use the rules drafter)")
    return ExitCode.OK


def _run_offline(
    args: argparse.Namespace, settings: GenerateConfig, scope: Scope, ledger: Any
) -> int:
    print(
        "draftgate: no LLM endpoint configured (OPENAI_API_KEY/OPENAI_BASE_URL unset); "
        "drafting with the built-in rules drafter",
        file=sys.stderr,
    )
    with _progress(args.quiet) as progress:
        task = progress.add_task("rules drafter", total=None, info="")
        report = run_rules_drafter(
            ledger,
            scope,
            kinds=settings.kinds,
            per_chunk=settings.per_chunk,
            limit=args.limit,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    _print_summary(
        calls_ok=report.calls_ok,
        calls_failed={},
        drafts_by_kind=dict(report.drafts_by_kind),
        dropped=dict(report.dropped),
        tokens=(0, 0),
        cost=0.0,
        skipped=report.jobs_skipped,
        requested=(report.drafts_requested, 0),
    )
    _print_dropped_drafts(report.dropped_drafts)
    return ExitCode.OK


# The summary lists this many dropped candidates; all of them stay in their calls' records.
DROPPED_SHOWN = 40


def _print_dropped_drafts(dropped: list[dict[str, str]]) -> None:
    """Each candidate the rules dropped (not the per-chunk overflow): what, why, and where in
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


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        disable=quiet,
    )


def _cost(
    settings: GenerateConfig, prompt_tokens: int, completion_tokens: int, batch: bool = False
) -> float:
    cost = (
        prompt_tokens * settings.price_in_per_mtok + completion_tokens * settings.price_out_per_mtok
    ) / 1e6
    return cost / 2 if batch else cost


def _run_llm(
    args: argparse.Namespace,
    settings: GenerateConfig,
    scope: Scope,
    ledger: Any,
    base_url: str | None,
    api_key: str | None,
) -> int:
    from generator.client import ClientSettings, EndpointError, LLMClient
    from generator.dedup import DedupIndex
    from generator.pacing import Pacer
    from generator.runner import DraftChecker, RunReport, run_jobs

    plan = _plan(args, settings, scope, ledger)
    client_settings = ClientSettings(
        base_url=base_url,
        api_key=api_key,
        model=settings.model,
        mode=settings.mode,
        temperature=settings.temperature,
        timeout_s=settings.timeout_s,
        max_attempts=settings.max_attempts,
        max_reasks=settings.max_reasks,
        backoff_initial_s=settings.backoff_initial_s,
        backoff_max_s=settings.backoff_max_s,
        retry_after_cap_s=settings.retry_after_cap_s,
    )
    dedup = DedupIndex.from_drafts((kind, q) for _id, _c, kind, q, _a in ledger.iter_draft_texts())
    checker = DraftChecker(ledger, scope, dedup)

    async def go() -> RunReport:
        client = LLMClient(client_settings)
        try:
            await client.preflight()
            if args.batch:
                from generator.batch import run_batch

                state_path = Path(str(ledger.path) + ".batch.json")
                return await run_batch(
                    ledger,
                    client,
                    plan.jobs,
                    checker,
                    state_path,
                    poll_s=settings.batch_poll_s,
                    log=lambda m: print(f"draftgate: {m}", file=sys.stderr),
                )
            with _progress(args.quiet) as progress:
                task = progress.add_task(
                    f"generate ({client_settings.endpoint_host})", total=len(plan.jobs), info=""
                )

                def on_progress(done: int, total: int, report: RunReport) -> None:
                    cost = _cost(settings, report.prompt_tokens, report.completion_tokens)
                    info = (
                        f"{report.prompt_tokens + report.completion_tokens} tok "
                        f"~${cost:.4f} failed {sum(report.calls_failed.values())}"
                    )
                    progress.update(task, completed=done, info=info)

                return await run_jobs(
                    ledger,
                    client,
                    plan.jobs,
                    checker,
                    concurrency=settings.concurrency,
                    pacer=Pacer(settings.rpm, settings.tpm),
                    on_progress=on_progress,
                    on_ledger_busy=lambda: progress.console.print(
                        "draftgate: another process is writing the ledger; finished calls "
                        f"wait to be stored (up to {ledger.busy_timeout_s:g} s)"
                    ),
                )
        finally:
            await client.close()

    try:
        report = asyncio.run(go())
    except EndpointError as exc:
        raise CommandError(str(exc), ExitCode.ENDPOINT) from exc
    report.skipped_finished = plan.skipped_finished
    _print_summary(
        calls_ok=report.calls_ok,
        calls_failed=dict(report.calls_failed),
        drafts_by_kind=dict(report.drafts_by_kind),
        dropped=dict(report.dropped),
        tokens=(report.prompt_tokens, report.completion_tokens),
        cost=_cost(settings, report.prompt_tokens, report.completion_tokens, args.batch),
        skipped=plan.skipped_finished,
        requested=(report.drafts_requested, report.drafts_failed),
    )
    if report.calls_failed:
        print(
            f"draftgate: {sum(report.calls_failed.values())} call(s) failed; rerun "
            "`draftgate generate` to retry them (finished jobs are skipped)",
            file=sys.stderr,
        )
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def _print_summary(
    *,
    calls_ok: int,
    calls_failed: dict[str, int],
    drafts_by_kind: dict[str, int],
    dropped: dict[str, int],
    tokens: tuple[int, int],
    cost: float,
    skipped: int = 0,
    requested: tuple[int, int] | None = None,
) -> None:
    """The run's counts. ``requested`` is (drafts requested, drafts lost with failed calls):
    requested = stored + dropped + failed, each taken from the calls the ledger recorded."""
    console = Console()
    table = Table("", "count", title="generation summary")
    table.add_row("calls ok", str(calls_ok))
    for reason, n in sorted(calls_failed.items()):
        table.add_row(f"calls failed: {reason}", str(n))
    if skipped:
        table.add_row("jobs skipped (already finished)", str(skipped))
    if requested is not None:
        table.add_row("drafts requested", str(requested[0]))
        table.add_row("drafts failed (with their calls)", str(requested[1]))
    for kind, n in sorted(drafts_by_kind.items()):
        table.add_row(f"drafts stored: {kind}", str(n))
    for reason, n in sorted(dropped.items()):
        table.add_row(f"drafts dropped: {reason}", str(n))
    table.add_row("tokens in / out", f"{tokens[0]} / {tokens[1]}")
    table.add_row("estimated cost", f"${cost:.4f}")
    console.print(table)
