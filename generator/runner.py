"""The LLM run: plan jobs, call the model with bounded concurrency and pacing, check,
deduplicate, and store each finished call from the event loop (``LedgerWriter``).

Job keys and call records come from ``generator.calls``; see there for why a rerun skips
finished jobs and never stores a draft twice.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from generator import calls
from generator.absence import AbsenceCheck, check_absence, path_in_docs, ui_name_is_real
from generator.calls import JobSpec
from generator.checks import check_answer, with_injected_findings
from generator.claims import ClaimedJobs
from generator.client import CallResult, LLMClient
from generator.dedup import DedupIndex
from generator.kinds import KINDS
from generator.plain import plain_text
from generator.prompts import PromptSet, RenderedPrompt, scope_variables
from generator.redact import redact
from generator.rules.negative import FEATURE_IN_DOCS
from generator.rules.plan import DroppedDraft
from generator.schemas import NegativeItem
from generator.scope import Scope
from ledger import (
    Chunk,
    DraftIn,
    DraftKind,
    GenerationCall,
    Ledger,
    LedgerBusyError,
    utc_now,
)
from ledger.dropped import DROPPED_DRAFTS_PARAM

log = logging.getLogger("draftgate.generate")

LLM_DRAFTER = "llm"
# Call params (provenance, not part of the job key): the completion budget sent, and each
# failed attempt's "class: reason" in order.
MAX_TOKENS_PARAM = "max_tokens"
ATTEMPT_ERRORS_PARAM = "attempt_errors"
# A redraft job's params (``generator.redraft``): the rejected drafts it replaces and the
# reviewers' reasons. Every draft the job makes carries them in its meta.
REDRAFT_OF = "redraft_of"
REDRAFT_REASONS = "redraft_reasons"
# Why a wrong-UI-name draft is dropped: the "wrong" name is one the docs or glossary use, or
# the real path its answer points to is nowhere in the docs.
WRONG_NAME_IS_REAL = "wrong_name_is_real"
PATH_NOT_IN_DOCS = "path_not_in_docs"
# A rough completion size per requested draft, for the dry-run estimate and the TPM pacer.
COMPLETION_TOKENS_PER_DRAFT = 120
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Job:
    spec: JobSpec
    chunk: Chunk
    document_path: str
    prompt: RenderedPrompt

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def kind(self) -> DraftKind:
        return self.spec.kind

    @property
    def subtype(self) -> str | None:
        return self.spec.subtype

    @property
    def count(self) -> int:
        return self.spec.count

    @property
    def params(self) -> Mapping[str, Any]:
        return self.spec.params

    @property
    def estimated_prompt_tokens(self) -> int:
        return sum(len(m["content"]) for m in self.prompt.messages) // CHARS_PER_TOKEN

    @property
    def estimated_tokens(self) -> int:
        return self.estimated_prompt_tokens + self.count * COMPLETION_TOKENS_PER_DRAFT

    @property
    def context(self) -> dict[str, Any]:
        """instructor's validation context: what the grounding checks compare against."""
        return {
            "chunk": self.chunk.text,
            "count": self.count,
            "subtype": self.subtype,
            "prompt_phrases": self.prompt.prompt_phrases,
        }


@dataclass
class Plan:
    jobs: list[Job]
    skipped_finished: int = 0


@dataclass
class RunReport:
    calls_ok: int = 0
    calls_failed: Counter[str] = field(default_factory=Counter)
    drafts_by_kind: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Drafts asked for, and those lost with their failed calls: with the stored and dropped
    # counts they add up, requested = stored + dropped + failed (taken from the ledger rows).
    drafts_requested: int = 0
    drafts_failed: int = 0
    # Every candidate the checks dropped, as stored in the recorded calls' params.
    dropped_drafts: list[dict[str, str]] = field(default_factory=list)


def plan_jobs(
    ledger: Ledger,
    scope: Scope,
    prompts: PromptSet,
    *,
    kinds: Sequence[str],
    per_chunk: int,
    model: str,
    params: dict[str, Any],
    limit: int | None = None,
) -> Plan:
    """Every (chunk, kind, subtype) job not yet finished, in docs order, up to ``limit``."""
    finished = ledger.finished_job_keys()
    paths = {d.id: d.path for d in ledger.current_documents()}
    product = scope_variables(scope)
    plan = Plan(jobs=[])
    for chunk in ledger.current_chunks():
        for kind in map(DraftKind, kinds):
            for subtype in KINDS[kind].subtypes:
                variables = {
                    **product,
                    "document_path": paths.get(chunk.document_id, ""),
                    "heading": " > ".join(chunk.heading_path),
                    "start_line": chunk.start_line,
                    "end_line": chunk.end_line,
                    "chunk": plain_text(chunk.text),
                    "count": per_chunk,
                    "subtype": subtype,
                }
                document_path = paths.get(chunk.document_id, "")
                prompt = prompts.render(kind, variables)
                spec = JobSpec(
                    chunk_id=chunk.id,
                    chunk_text_hash=chunk.text_hash,
                    kind=kind,
                    subtype=subtype,
                    drafter=LLM_DRAFTER,
                    template_name=prompt.template_name,
                    template_hash=prompt.template_hash,
                    model=model,
                    params=params,
                    count=per_chunk,
                )
                if spec.key in finished:
                    plan.skipped_finished += 1
                    continue
                finished.add(spec.key)  # two chunks with the same text make one job
                plan.jobs.append(Job(spec, chunk, document_path, prompt))
                if limit is not None and len(plan.jobs) >= limit:
                    return plan
    return plan


class DraftChecker:
    """The checks after a valid reply: corpus-wide ones (they read the ledger) and dedup."""

    def __init__(self, ledger: Ledger, scope: Scope, dedup: DedupIndex) -> None:
        self.ledger = ledger
        self.scope = scope
        self.dedup = dedup
        self._absent = {a.feature.casefold(): a for a in scope.does_not_offer}
        # The chunks do not change during a run, so each corpus lookup is made once.
        self._absence: dict[tuple[str, ...], AbsenceCheck] = {}
        self._ui_real: dict[str, bool] = {}
        self._path_real: dict[str, bool] = {}
        self._mentions: dict[str, tuple[str, str]] = {}  # doc:line and text of a real UI name
        self._known_names = [scope.product.name, *scope.glossary.names()]

    def drafts_of(self, job: Job, reply: BaseModel) -> CheckedReply:
        kind = job.kind
        checked = CheckedReply()
        for item in getattr(reply, "items", []):
            draft = item.to_draft(kind)
            drop: DroppedDraft | None = None
            if isinstance(item, NegativeItem):
                draft, drop = self._check_negative(item, draft)
            elif draft.subtype == "wrong_ui_name":
                drop = self._check_wrong_ui_name(draft)
            if drop is None:
                reason = self.dedup.check_and_add(job.kind, draft.question)
                if reason is not None:
                    drop = DroppedDraft(kind.value, draft.question, reason)
            if drop is not None:
                checked.dropped[drop.reason] += 1
                checked.dropped_drafts.append(drop.as_record())
                continue
            checked.drafts.append(self._with_findings(job, draft))
        return checked

    def _with_findings(self, job: Job, draft: DraftIn) -> DraftIn:
        """The draft with the answer checks' findings in ``meta["findings"]``, for the
        reviewer. Blocking findings already failed validation, so these are the rest."""
        findings = check_answer(
            draft.answer,
            job.chunk.text,
            question=draft.question,
            known_names=self._known_names,
            corpus_search=self._in_docs,
            prompt_phrases=job.prompt.prompt_phrases,
        )
        links = {k: job.params[k] for k in (REDRAFT_OF, REDRAFT_REASONS) if k in job.params}
        meta = {**draft.meta, **links, "findings": [f.as_meta() for f in findings]}
        # The question may repeat doc text addressed to an AI too (the answer and quotes
        # already passed that check in validation).
        return with_injected_findings(draft.model_copy(update={"meta": meta}), job.chunk.text)

    def _in_docs(self, name: str) -> bool:
        if name not in self._path_real:
            self._path_real[name] = path_in_docs(self.ledger, name)
        return self._path_real[name]

    def _check_negative(
        self, item: NegativeItem, draft: DraftIn
    ) -> tuple[DraftIn, DroppedDraft | None]:
        known = self._absent.get(item.feature.strip().casefold())
        terms = known.all_terms() if known else [item.feature, *item.search_terms]
        check = self._absence_of(tuple(terms))
        feature = known.feature if known else item.feature
        meta = {
            **draft.meta,
            "feature": feature,
            "feature_source": "scope" if known else "model",
            "absence_check": check.as_meta(),
        }
        if known and known.instead:
            meta["instead"] = known.instead
        checked = draft.model_copy(update={"meta": meta})
        # A feature the docs mention only to deny it is the best-supported negative.
        if check.supports_negative:
            return checked, None
        hit = check.hits[0]
        return checked, DroppedDraft(
            DraftKind.NEGATIVE.value,
            feature,
            FEATURE_IN_DOCS,
            str(hit.get("line", "")),
            str(hit.get("snippet", "")),
        )

    def _check_wrong_ui_name(self, draft: DraftIn) -> DroppedDraft | None:
        wrong = str(draft.meta.get("wrong_name") or "")
        real = str(draft.meta.get("real_path") or "")
        if wrong not in self._ui_real:
            self._ui_real[wrong] = ui_name_is_real(self.ledger, self.scope, wrong)
        if real not in self._path_real:
            self._path_real[real] = path_in_docs(self.ledger, real)
        kind = DraftKind.ADVERSARIAL.value
        if self._ui_real[wrong]:
            at, text = self._mention_of(wrong)
            return DroppedDraft(kind, wrong, WRONG_NAME_IS_REAL, at, text)
        if not self._path_real[real]:
            return DroppedDraft(kind, real, PATH_NOT_IN_DOCS)
        return None

    def _mention_of(self, name: str) -> tuple[str, str]:
        """``doc:line`` and text of a mention of ``name`` in the docs, or the glossary's word
        for it when only the glossary lists it."""
        if name not in self._mentions:
            hits = self._absence_of((name,))
            found = [*hits.hits, *hits.denials]
            self._mentions[name] = (
                (str(found[0].get("line", "")), str(found[0].get("snippet") or ""))
                if found
                else ("", "listed in the scope's glossary")
            )
        return self._mentions[name]

    def _absence_of(self, terms: tuple[str, ...]) -> AbsenceCheck:
        if terms not in self._absence:
            self._absence[terms] = check_absence(self.ledger, list(terms))
        return self._absence[terms]


@dataclass
class CheckedReply:
    """What the checks kept of one reply, and what they dropped: counts by reason, and each
    dropped candidate in the shape both drafters store in ``params["dropped_drafts"]``."""

    drafts: list[DraftIn] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_drafts: list[dict[str, str]] = field(default_factory=list)


class LedgerWriter:
    """The one writer: stores finished calls from the event loop, a few at a time.

    It writes on the event loop rather than on a thread of its own. SQLite gives up the GIL
    around every statement, so a writer thread would trade the GIL with the loop several
    times a call: measured with ``bench/generation.py``, that costs more CPU than the writes
    themselves and holds up replies waiting on the loop. A commit here is short (WAL with
    synchronous=NORMAL: no fsync per commit), and calls finished within ``FLUSH_DELAY_S``
    of each other share one. The loop never sleeps on another process's write lock: the
    lock is tried without waiting, and a batch that finds it taken is tried again shortly, up
    to the busy timeout a command waits (then LedgerLockedError, as a command would get).
    """

    # Group commit: a flush waits this long after the first call it will store, so calls
    # finishing close together share a commit. Against calls that take seconds, a kill loses
    # at most this much more finished work (redone by the rerun; never stored twice).
    FLUSH_DELAY_S = 0.05
    RETRY_FIRST_S = 0.005
    RETRY_MAX_S = 0.2

    def __init__(
        self, ledger: Ledger, report: RunReport, on_busy: Callable[[], None] | None = None
    ) -> None:
        self.ledger = ledger
        self.report = report
        # Told once each time the ledger turns out to be locked, so a user whose progress bar
        # has stopped (or sits at N of N) knows the run is waiting for another process.
        self._on_busy = on_busy
        self._pending: list[tuple[GenerationCall, list[DraftIn]]] = []
        self._scheduled: asyncio.Handle | None = None
        self._busy_since: float | None = None
        self._retry_s = self.RETRY_FIRST_S
        self._error: BaseException | None = None

    def put(self, call: GenerationCall, drafts: list[DraftIn]) -> None:
        if self._error is not None:
            raise self._error
        self._pending.append((call, drafts))
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_later(self.FLUSH_DELAY_S, self._flush)

    def _flush(self) -> None:
        self._scheduled = None
        if not self._pending or self._error is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            self._write_pending()
        except LedgerBusyError as exc:
            now = loop.time()
            if self._busy_since is None:
                self._busy_since = now
                if self._on_busy is not None:
                    self._on_busy()
            if now - self._busy_since >= self.ledger.busy_timeout_s:
                self._error = self.ledger.stayed_locked()
                self._error.__cause__ = exc
                return
            self._scheduled = loop.call_later(self._retry_s, self._flush)
            self._retry_s = min(self._retry_s * 2, self.RETRY_MAX_S)
        except Exception as exc:  # noqa: BLE001 - raised to the workers by put()/close()
            self._error = exc

    def _write_pending(self) -> None:
        outcomes = self.ledger.record_calls(self._pending, wait=False)
        self._pending = []
        self._busy_since, self._retry_s = None, self.RETRY_FIRST_S
        for outcome in outcomes:
            self._count(outcome.call)

    def _count(self, final: GenerationCall) -> None:
        log.debug(
            "recorded call %s (job %s, %s): %s, %d attempt(s), %d of %d stored, dropped %s%s",
            final.id,
            final.job_key,
            final.kind.value,
            final.status,
            final.attempts,
            final.produced,
            final.requested,
            final.dropped,
            f", {final.error}" if final.error else "",
        )
        # The summary counts what the ledger recorded, so the two always agree.
        self.report.drafts_requested += final.requested
        if final.status == "ok":
            self.report.calls_ok += 1
            self.report.drafts_by_kind[final.kind.value] += final.produced
            self.report.dropped.update(final.dropped)
            self.report.dropped_drafts.extend(final.params.get(DROPPED_DRAFTS_PARAM) or [])
        else:
            self.report.calls_failed[(final.error or "failed").split(":")[0]] += 1
            self.report.drafts_failed += final.requested - final.produced

    async def close(self) -> None:
        """Store what is still pending (waiting out a busy ledger), then raise any error."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        while self._pending and self._error is None:
            self._flush()
            if self._scheduled is not None:  # the ledger was busy: wait as the retry would
                self._scheduled.cancel()
                self._scheduled = None
                await asyncio.sleep(self._retry_s)
        if self._error is not None:
            raise self._error


def build_call(
    job: Job,
    result: CallResult,
    client: LLMClient,
    started_at: str,
    drafts: list[DraftIn],
    dropped: Counter[str],
    extra_params: dict[str, Any] | None = None,
    dropped_drafts: list[dict[str, str]] | None = None,
) -> GenerationCall:
    """The ledger record of one LLM call of ``job``; ``dropped_drafts`` (each candidate the
    checks dropped) is stored in its params, where the rules drafter stores its own.

    A failed call's ``error`` is its last attempt's class and reason; every failed attempt's
    reason, in order, is in ``params["attempt_errors"]`` (the last one is the ``error``).
    """
    error = None
    extra_params = {**(extra_params or {}), MAX_TOKENS_PARAM: client.settings.max_tokens(job.count)}
    if dropped_drafts:
        extra_params[DROPPED_DRAFTS_PARAM] = dropped_drafts
    attempt_errors = list(result.attempt_errors)
    if not result.ok:
        # Redacted here, where live and batch calls meet: an error body may echo the key.
        detail = f"{result.error}: {result.error_detail or ''}".strip()
        error = redact(detail, client.settings.api_key)
        if not attempt_errors or attempt_errors[-1] != detail:
            attempt_errors.append(detail)
    if attempt_errors:
        extra_params[ATTEMPT_ERRORS_PARAM] = [
            redact(reason, client.settings.api_key) for reason in attempt_errors
        ]
    # A reply never holds more drafts than asked (validation re-asks it), so produced +
    # dropped stays within the count; should a drafter ever weigh more, the row says so
    # rather than showing more dropped than requested.
    weighed = len(drafts) + sum(dropped.values())
    return calls.build_call(
        job.spec,
        started_at=started_at,
        produced=len(drafts),
        dropped=dropped,
        error=error,
        attempts=result.attempts,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        latency_ms=result.latency_ms,
        endpoint_host=client.settings.endpoint_host,
        extra_params=extra_params,
        requested=max(job.count, weighed),
    )


def store_result(
    job: Job,
    result: CallResult,
    client: LLMClient,
    started_at: str,
    checker: DraftChecker,
    report: RunReport,
    writer: LedgerWriter,
    extra_params: dict[str, Any] | None = None,
) -> None:
    """Check one call's reply, count its tokens and hand the call and its drafts to the
    writer: the same for a live call and a batch result."""
    checked = CheckedReply()
    if result.reply is not None:
        checked = checker.drafts_of(job, result.reply)
    report.prompt_tokens += result.prompt_tokens
    report.completion_tokens += result.completion_tokens
    call = build_call(
        job,
        result,
        client,
        started_at,
        checked.drafts,
        checked.dropped,
        extra_params,
        dropped_drafts=checked.dropped_drafts,
    )
    writer.put(call, checked.drafts)


ProgressFn = Callable[[int, int, RunReport], None]


async def run_jobs(
    ledger: Ledger,
    client: LLMClient,
    jobs: Sequence[Job],
    checker: DraftChecker,
    *,
    concurrency: int,
    pacer: Any = None,
    on_progress: ProgressFn | None = None,
    on_ledger_busy: Callable[[], None] | None = None,
    claims: ClaimedJobs | None = None,
) -> RunReport:
    """Run every job; failures are recorded and the run goes on, unless the server has gone
    (``ServerGoneError``): then the calls in flight are cancelled, what finished is stored,
    and the error is raised. With ``claims``, a job is taken only once this run holds its
    claim in the ledger (runs sharing a ledger)."""
    report = RunReport()
    writer = LedgerWriter(ledger, report, on_ledger_busy)
    pending: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        pending.put_nowait(job)
    done = 0
    total = len(jobs)

    async def next_job() -> Job | None:
        if claims is not None:
            return await claims.take()
        try:
            return pending.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def worker() -> None:
        nonlocal done
        while True:
            job = await next_job()
            if job is None:
                return
            if pacer is not None:
                await pacer.acquire(job.estimated_tokens)
            started_at = utc_now()
            result = await client.draft(
                job.prompt.messages,
                KINDS[job.kind].reply_model,
                job.context,
                call_params(job, client),
            )
            if pacer is not None:
                pacer.settle(job.estimated_tokens, result.prompt_tokens + result.completion_tokens)
            store_result(job, result, client, started_at, checker, report, writer)
            if claims is not None:
                claims.done(job)
            done += 1
            if on_progress is not None:
                on_progress(done, total if claims is None else claims.expected, report)

    # What exists now (modules, the plan, the client) lives for the whole run. Frozen, the
    # collector stops rescanning it: a full collection of a few hundred thousand objects
    # otherwise stalls the event loop ~0.1 s, holding up every reply that lands meanwhile.
    gc.freeze()
    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, total or 1)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    finally:
        gc.unfreeze()
        try:
            await writer.close()
        finally:
            if claims is not None:  # given back only once every finished call is stored
                await claims.close()
    return report


def call_params(job: Job, client: LLMClient) -> dict[str, Any]:
    """The sampling parameters sent to the endpoint (the rest of ``params`` is provenance),
    with the call's completion budget: without ``max_tokens`` a local model that does not stop
    writes until its context is full."""
    return {
        "temperature": job.params["temperature"],
        "max_tokens": client.settings.max_tokens(job.count),
    }
