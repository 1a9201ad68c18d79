"""One probe run: ask, judge, store, report.

``run_probe`` finds the export, builds its probes (``probe.cases``), asks the model under test
(``probe.ask``, concurrent and bounded), judges every answer in code (``probe.judge``) and, with
``--judge``, by an LLM too (``probe.llm_judge``), then stores the run, every answer and the
drafts its failures become in one ledger transaction (``ledger.probes``) and returns the report
(``probe.report``). Nothing is stored until every probe has its answer: an interrupted run
leaves no half run behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from generator.client import ClientSettings
from ledger import PROBE_DRAFTER, DraftIn, DraftKind, Ledger, utc_now
from ledger.ids import new_event_id
from ledger.probes import (
    ProbeAnswerIn,
    ProbeRunIn,
    pending_probe_references,
    probe_answers,
    probe_runs,
    record_probe_run,
)
from ledger.progress import NO_PROGRESS, Progress
from probe.ask import Asked, AskSettings, ChatAsker, bounded
from probe.cases import ProbeCase, ProbeError, build_cases, find_export
from probe.judge import CodeVerdict, CorpusSearch, JudgeSettings, ProbeSubject, judge
from probe.llm_judge import LLMJudge
from probe.report import ProbeReport, build_report

# Meta keys of the reference draft a probe draft does not carry: the drafter's own bookkeeping
# and findings on the reference's answer (the probe draft's answer is the same text, but its
# card shows the probe's findings).
_NOT_CARRIED = frozenset({"drafter", "rule", "findings", "probe"})


@dataclass(frozen=True)
class ProbeOptions:
    ask: AskSettings
    export_ref: str | None = None
    judge: ClientSettings | None = None
    rules: JudgeSettings = field(default_factory=JudgeSettings)
    kinds: tuple[str, ...] | None = None
    limit: int | None = None
    # Failed probes become drafts in the review queue unless turned off.
    make_drafts: bool = True
    known_names: tuple[str, ...] = ()


@dataclass
class _Answered:
    asked: Asked
    judge: dict[str, Any] | None = None


def run_probe(
    ledger: Ledger, options: ProbeOptions, progress: Progress = NO_PROGRESS
) -> ProbeReport:
    """The run, stored; ``progress`` counts the questions answered."""
    export = find_export(ledger, options.export_ref)
    run_id = new_event_id()
    cases = build_cases(ledger, export, run_id, kinds=options.kinds, limit=options.limit)
    if not cases:
        raise ProbeError(
            f"export {export.export_id} has nothing to probe: no eval record and no held-out "
            "draft (export with --eval-fraction above 0 or --hold-out)"
        )
    started_at = utc_now()
    progress.begin(len(cases), "questions")
    answered = asyncio.run(_ask_all(cases, export.system_prompt, options, progress))

    def in_docs(name: str) -> bool:
        return bool(ledger.search_chunks(name, limit=1))

    answers: list[ProbeAnswerIn] = []
    for case, result in zip(cases, answered, strict=True):
        verdict = _verdict(case, result.asked, options, in_docs)
        answers.append(
            ProbeAnswerIn(
                draft_id=case.draft_id,
                decision_id=case.decision_id,
                chunk_id=case.chunk_id,
                source=case.source,
                kind=case.kind,
                subtype=case.subtype,
                document=case.document,
                question=case.question,
                canary=case.canary,
                reference=case.reference,
                model_answer=result.asked.answer,
                error=result.asked.error,
                passed=verdict.passed,
                over_refusal=verdict.over_refusal,
                reasons=verdict.reasons,
                judge=result.judge,
                latency_ms=result.asked.latency_ms,
            )
        )
    drafts = _failure_drafts(ledger, run_id, options, cases, answers) if options.make_drafts else {}
    run = ProbeRunIn(
        id=run_id,
        export_id=export.export_id,
        export_manifest_hash=export.manifest_hash,
        model=options.ask.model,
        endpoint_host=_host(options.ask.base_url),
        judge_model=options.judge.model if options.judge else None,
        params={
            **options.ask.params(),
            "concurrency": options.ask.concurrency,
            "timeout_s": options.ask.timeout_s,
            "min_fact_share": options.rules.min_fact_share,
            "min_help_share": options.rules.min_help_share,
            "kinds": list(options.kinds) if options.kinds else None,
            "limit": options.limit,
            "system_prompt": export.system_prompt,
        },
        started_at=started_at,
        finished_at=utc_now(),
    )
    record_probe_run(ledger, run, answers, drafts)
    stored = next(r for r in probe_runs(ledger) if r["id"] == run_id)
    return build_report(stored, probe_answers(ledger, run_id))


def _host(base_url: str | None) -> str:
    return ClientSettings(base_url=base_url, api_key=None, model="").endpoint_host


def _verdict(
    case: ProbeCase, asked: Asked, options: ProbeOptions, in_docs: CorpusSearch
) -> CodeVerdict:
    if asked.answer is None:
        return CodeVerdict(False, [f"no answer: the call failed ({asked.error})"])
    subject = ProbeSubject(
        kind=case.kind,
        subtype=case.subtype,
        question=case.question,
        reference=case.reference,
        meta=case.meta,
        chunk_text=case.chunk_text,
        canary=case.canary,
    )
    return judge(
        subject, asked.answer, options.rules, known_names=options.known_names, corpus_search=in_docs
    )


async def _ask_all(
    cases: list[ProbeCase],
    system_prompt: str | None,
    options: ProbeOptions,
    progress: Progress,
) -> list[_Answered]:
    asker = ChatAsker(options.ask)
    llm_judge = LLMJudge(options.judge) if options.judge else None

    async def one(case: ProbeCase) -> _Answered:
        asked = await asker.ask(case.question, system_prompt)
        result = _Answered(asked)
        if llm_judge is not None and asked.answer is not None:
            result.judge = await llm_judge.verdict(
                case.kind, case.subtype, case.question, case.reference, asked.answer
            )
        return result

    try:
        return await bounded(cases, one, options.ask.concurrency, lambda _done: progress.advance(1))
    finally:
        await asker.close()
        if llm_judge is not None:
            await llm_judge.close()


def _failure_drafts(
    ledger: Ledger,
    run_id: str,
    options: ProbeOptions,
    cases: list[ProbeCase],
    answers: list[ProbeAnswerIn],
) -> dict[int, DraftIn]:
    """A draft per failed, answered probe, on the reference draft's chunk, starting from the
    signed answer; none for a reference whose earlier probe draft still awaits review."""
    failed = [i for i, a in enumerate(answers) if not a.passed and a.error is None]
    waiting = pending_probe_references(ledger, [answers[i].draft_id for i in failed])
    drafts: dict[int, DraftIn] = {}
    for index in failed:
        case, answer = cases[index], answers[index]
        if case.draft_id in waiting:
            continue
        carried = {k: v for k, v in case.meta.items() if k not in _NOT_CARRIED}
        probe_meta: dict[str, Any] = {
            "run_id": run_id,
            "model": options.ask.model,
            "model_answer": answer.model_answer,
            "reasons": answer.reasons,
            "reference_draft_id": case.draft_id,
            "source": case.source,
        }
        if case.question != case.signed_question:
            probe_meta["asked"] = case.question
        if answer.judge is not None:
            probe_meta["judge"] = answer.judge
        drafts[index] = DraftIn(
            kind=DraftKind(case.kind),
            subtype=case.subtype,
            question=case.signed_question,
            answer=case.reference,
            evidence=case.evidence,
            meta={**carried, "drafter": PROBE_DRAFTER, "probe": probe_meta},
        )
    return drafts
