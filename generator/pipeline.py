"""One generate run: choose the drafter, plan, draft, store, and say what happened.

With an endpoint (a base URL or an API key) an LLM drafts through structured calls, live or
through the Batch API; without one the rules drafter does. The caller shows progress and
the summary: the run reports through a ``RunObserver`` and returns a ``RunSummary``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from generator.claims import ClaimedJobs, ClaimOptions
from generator.errors import InputError, NoChunksError
from generator.prompts import PromptsError, PromptSet
from generator.scope import Scope
from generator.settings import MODE_AUTO, STRUCTURED_MODES, GenerateSettings
from ledger import Ledger

if TYPE_CHECKING:
    from generator.client import ClientSettings
    from generator.runner import Job, Plan, RunReport


@dataclass(frozen=True)
class RunProgress:
    done: int
    total: int | None
    # Tokens, cost and failed calls so far; the rules drafter has none of these.
    tokens: int | None = None
    cost: float | None = None
    calls_failed: int = 0


class RunObserver(Protocol):
    """What a run tells while it runs (a progress bar, a log)."""

    def started(self, description: str, total: int | None) -> None: ...

    def advanced(self, progress: RunProgress) -> None: ...

    def finished(self) -> None: ...

    def ledger_busy(self, wait_s: float) -> None:
        """Finished calls or new job claims wait for another process's write lock, up to
        ``wait_s`` seconds."""

    def message(self, text: str) -> None: ...


class SilentObserver:
    def started(self, description: str, total: int | None) -> None:
        pass

    def advanced(self, progress: RunProgress) -> None:
        pass

    def finished(self) -> None:
        pass

    def ledger_busy(self, wait_s: float) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@dataclass
class RunSummary:
    """A run's counts, taken from what the ledger recorded.

    requested = stored + dropped + failed: ``drafts_requested`` splits into the drafts stored
    (``drafts_by_kind``), dropped (``dropped``) and lost with failed calls (``drafts_failed``).
    """

    calls_ok: int = 0
    calls_failed: dict[str, int] = field(default_factory=dict)
    drafts_by_kind: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    jobs_skipped: int = 0  # already finished by an earlier run
    # Planned jobs another run sharing the ledger finished meanwhile or still holds.
    jobs_left_to_other_runs: int = 0
    # Stopped by Ctrl-C after the calls in flight were stored (``generate --workers``).
    interrupted: bool = False
    drafts_requested: int = 0
    drafts_failed: int = 0
    # Every dropped candidate (kind, name, reason, doc:line), as either drafter's calls store
    # them in their params.
    dropped_drafts: list[dict[str, str]] = field(default_factory=list)
    mode: str | None = None  # the structured-output mode the calls used (None: rules drafter)


@dataclass(frozen=True)
class Estimate:
    """What a run would do, for ``--dry-run``: its LLM jobs and their estimated tokens."""

    plan: Plan
    prompt_tokens: int
    total_tokens: int
    cost: float
    uses_llm: bool  # False: a real run would use the rules drafter
    mode: str  # the structured-output mode the jobs are keyed with

    @property
    def jobs(self) -> list[Job]:
        return self.plan.jobs

    @property
    def completion_tokens(self) -> int:
        return self.total_tokens - self.prompt_tokens


def _check_chunks(ledger: Ledger) -> None:
    if not ledger.current_chunks():
        raise NoChunksError(f"no ingested docs in {ledger.path}")


def _prompt_set(settings: GenerateSettings) -> PromptSet:
    prompts = PromptSet(Path(settings.prompts) if settings.prompts else None)
    try:
        prompts.check(settings.kinds)
    except PromptsError as exc:
        raise InputError(str(exc)) from exc
    return prompts


def plan(ledger: Ledger, scope: Scope, settings: GenerateSettings) -> Plan:
    """The LLM jobs not yet finished, in docs order, up to ``settings.limit``."""
    from generator.runner import plan_jobs

    prompts = _prompt_set(settings)
    try:
        if settings.redraft_rejected:
            from generator.redraft import check_redraft_template, plan_redraft_jobs

            check_redraft_template(prompts)
            return plan_redraft_jobs(
                ledger,
                scope,
                prompts,
                kinds=settings.kinds,
                model=settings.model,
                params=settings.job_params(),
                limit=settings.limit,
            )
        return plan_jobs(
            ledger,
            scope,
            prompts,
            kinds=settings.kinds,
            per_chunk=settings.per_chunk,
            model=settings.model,
            params=settings.job_params(),
            limit=settings.limit,
        )
    except PromptsError as exc:
        raise InputError(str(exc)) from exc


def estimate(ledger: Ledger, scope: Scope, settings: GenerateSettings) -> Estimate:
    """The jobs and their estimated tokens and cost; writes nothing."""
    _check_chunks(ledger)
    settings = replace(settings, mode=_mode_without_calls(ledger, settings))
    planned = plan(ledger, scope, settings)
    prompt_tokens = sum(j.estimated_prompt_tokens for j in planned.jobs)
    total_tokens = sum(j.estimated_tokens for j in planned.jobs)
    cost = settings.cost(prompt_tokens, total_tokens - prompt_tokens)
    return Estimate(planned, prompt_tokens, total_tokens, cost, settings.uses_llm, settings.mode)


def mode_cache_path(ledger: Ledger) -> Path:
    """Where ``--mode auto`` keeps the mode each endpoint and model took: beside the ledger."""
    from generator.endpoint_check import cache_path_for

    return cache_path_for(ledger.path)


def _mode_without_calls(ledger: Ledger, settings: GenerateSettings) -> str:
    """The mode a dry run keys its jobs with: ``auto`` reads the cache and makes no call
    (nothing cached: the first mode the check would try)."""
    if settings.mode != MODE_AUTO:
        return settings.mode
    from generator.endpoint_check import ModeCache

    cached = ModeCache(mode_cache_path(ledger)).get(settings.base_url, settings.model)
    return cached or STRUCTURED_MODES[0]


def resolve_mode(
    ledger: Ledger, settings: GenerateSettings, observer: RunObserver
) -> GenerateSettings:
    """The settings with ``--mode auto`` replaced by the mode the endpoint takes."""
    if settings.mode != MODE_AUTO:
        return settings
    from generator.endpoint_check import ModeCache, resolve_auto_mode

    cache = ModeCache(mode_cache_path(ledger))
    return replace(
        settings, mode=resolve_auto_mode(client_settings(settings), cache, observer.message)
    )


@dataclass(frozen=True)
class RulesPlan:
    """What the rules drafter would store: its run's summary and drafts by document."""

    summary: RunSummary
    drafts_by_document: dict[str, dict[str, int]]


def rules_plan(ledger: Ledger, scope: Scope, settings: GenerateSettings) -> RulesPlan:
    """What the rules drafter would draft, drafted in memory: writes nothing."""
    from generator.rules import run_rules_drafter

    _check_chunks(ledger)
    report = run_rules_drafter(
        ledger,
        scope,
        kinds=list(settings.kinds),
        per_chunk=settings.per_chunk,
        limit=settings.limit,
        dry_run=True,
    )
    summary = RunSummary(
        calls_ok=report.calls_ok,
        drafts_by_kind=dict(report.drafts_by_kind),
        dropped=dict(report.dropped),
        jobs_skipped=report.jobs_skipped,
        drafts_requested=report.drafts_requested,
        dropped_drafts=list(report.dropped_drafts),
    )
    return RulesPlan(summary, report.drafts_by_document)


def run(
    ledger: Ledger,
    scope: Scope,
    settings: GenerateSettings,
    observer: RunObserver | None = None,
    claim_options: ClaimOptions | None = None,
) -> RunSummary:
    """Draft every unfinished job with the drafter the settings choose, storing each call.

    A live LLM run claims each job in the ledger before calling for it (``generator.claims``),
    so runs sharing the ledger pay for a job once; ``claim_options`` tunes that.

    Raises NoChunksError, InputError, and EndpointError when the endpoint cannot be used at
    all: unreachable, unauthorised, no working mode for ``--mode auto``, or gone mid-run
    (``ServerGoneError``, after what finished is stored). Failed calls do not raise: they are
    in ``calls_failed``.
    """
    observer = observer or SilentObserver()
    _check_chunks(ledger)
    if settings.uses_llm:
        return _run_llm(ledger, scope, settings, observer, claim_options)
    if settings.redraft_rejected:
        from generator.redraft import rules_skip_message

        observer.message(rules_skip_message(ledger, settings.kinds))
        return RunSummary()
    return _run_rules(ledger, scope, settings, observer)


def _run_rules(
    ledger: Ledger, scope: Scope, settings: GenerateSettings, observer: RunObserver
) -> RunSummary:
    from generator.rules import run_rules_drafter

    observer.started("rules drafter", None)
    try:
        report = run_rules_drafter(
            ledger,
            scope,
            kinds=list(settings.kinds),
            per_chunk=settings.per_chunk,
            limit=settings.limit,
            on_progress=lambda done, total: observer.advanced(RunProgress(done, total)),
        )
    finally:
        observer.finished()
    return RunSummary(
        calls_ok=report.calls_ok,
        drafts_by_kind=dict(report.drafts_by_kind),
        dropped=dict(report.dropped),
        jobs_skipped=report.jobs_skipped,
        drafts_requested=report.drafts_requested,
        dropped_drafts=list(report.dropped_drafts),
    )


def client_settings(settings: GenerateSettings) -> ClientSettings:
    from generator.client import ClientSettings

    return ClientSettings(
        base_url=settings.base_url,
        api_key=settings.api_key,
        model=settings.model,
        mode=settings.mode,
        temperature=settings.temperature,
        timeout_s=settings.timeout_s,
        max_attempts=settings.max_attempts,
        max_reasks=settings.max_reasks,
        backoff_initial_s=settings.backoff_initial_s,
        backoff_max_s=settings.backoff_max_s,
        retry_after_cap_s=settings.retry_after_cap_s,
        max_tokens_per_draft=settings.max_tokens_per_draft,
    )


def batch_state_path(ledger: Ledger) -> Path:
    """Where a Batch API run keeps its batch id until its results are stored."""
    return Path(str(ledger.path) + ".batch.json")


def _run_llm(
    ledger: Ledger,
    scope: Scope,
    settings: GenerateSettings,
    observer: RunObserver,
    claim_options: ClaimOptions | None,
) -> RunSummary:
    # The LLM libraries load only for a run that calls one.
    from generator.client import LLMClient
    from generator.dedup import DedupIndex
    from generator.pacing import Pacer
    from generator.runner import DraftChecker, run_jobs

    # Planned first with the mode a dry run would use, so a broken prompt template is reported
    # before the endpoint is contacted; planned again only if the endpoint takes another mode.
    provisional = replace(settings, mode=_mode_without_calls(ledger, settings))
    planned = plan(ledger, scope, provisional)
    settings = resolve_mode(ledger, settings, observer)
    if settings.mode != provisional.mode:
        planned = plan(ledger, scope, settings)
    client_config = client_settings(settings)
    # Seeded with every stored draft, so a rerun does not store again what an earlier run did.
    dedup = DedupIndex.from_drafts((kind, q) for _id, _c, kind, q, _a in ledger.iter_draft_texts())
    checker = DraftChecker(ledger, scope, dedup)
    claims = ClaimedJobs(
        ledger,
        planned.jobs,
        concurrency=settings.concurrency,
        options=claim_options or ClaimOptions(ttl_s=settings.claim_ttl_s),
        on_busy=lambda: observer.ledger_busy(ledger.busy_timeout_s),
    )

    async def go() -> RunReport:
        client = LLMClient(client_config)
        try:
            await client.preflight()
            if settings.batch:
                from generator.batch import run_batch

                return await run_batch(
                    ledger,
                    client,
                    planned.jobs,
                    checker,
                    batch_state_path(ledger),
                    poll_s=settings.batch_poll_s,
                    log=observer.message,
                )
            observer.started(f"generate ({client_config.endpoint_host})", len(planned.jobs))
            try:

                def on_progress(done: int, total: int, report: RunReport) -> None:
                    observer.advanced(
                        RunProgress(
                            done,
                            total,
                            tokens=report.prompt_tokens + report.completion_tokens,
                            cost=settings.cost(report.prompt_tokens, report.completion_tokens),
                            calls_failed=sum(report.calls_failed.values()),
                        )
                    )

                return await run_jobs(
                    ledger,
                    client,
                    planned.jobs,
                    checker,
                    concurrency=settings.concurrency,
                    pacer=Pacer(settings.rpm, settings.tpm),
                    on_progress=on_progress,
                    on_ledger_busy=lambda: observer.ledger_busy(ledger.busy_timeout_s),
                    claims=claims,
                )
            finally:
                observer.finished()
        finally:
            await client.close()

    report = asyncio.run(go())
    return RunSummary(
        calls_ok=report.calls_ok,
        calls_failed=dict(report.calls_failed),
        drafts_by_kind=dict(report.drafts_by_kind),
        dropped=dict(report.dropped),
        prompt_tokens=report.prompt_tokens,
        completion_tokens=report.completion_tokens,
        cost=settings.cost(report.prompt_tokens, report.completion_tokens, batch=settings.batch),
        jobs_skipped=planned.skipped_finished,
        jobs_left_to_other_runs=claims.passed_over,
        drafts_requested=report.drafts_requested,
        drafts_failed=report.drafts_failed,
        dropped_drafts=list(report.dropped_drafts),
        mode=settings.mode,
    )
