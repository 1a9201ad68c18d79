"""The rules drafter's run: plan every kind over the corpus, then record one call per
(chunk, kind) job through the ledger, skipping jobs already finished.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generator.absence import path_in_docs
from generator.calls import JobSpec, build_call
from generator.checks import check_answer, with_injected_findings
from generator.plain import raw_quote
from generator.rules.clarify import plan_clarify
from generator.rules.corpus import Corpus
from generator.rules.false_premise import plan_false_premises
from generator.rules.injection import plan_injections
from generator.rules.negative import plan_negatives
from generator.rules.out_of_scope import plan_out_of_scope
from generator.rules.plan import RULES_DRAFTER, DroppedDraft, Plan, RulesReport
from generator.rules.qa import plan_qas
from generator.rules.wrong_key import plan_wrong_commands, plan_wrong_keys
from generator.rules.wrong_ui_name import plan_wrong_ui_names
from generator.scope import Scope
from ledger import Chunk, DraftIn, DraftKind, GenerationCall, Ledger, utc_now
from ledger.ids import content_hash, text_hash

RULES_MODEL = "rules/1"
# Dropped reason for a job where the rules found fewer drafts than requested in its chunk.
NOTHING_MORE_TO_DRAFT = "nothing_more_to_draft"
# Dropped reason for a candidate past the job's count in its chunk.
PER_CHUNK_FULL = "per_chunk_full"
# Dropped reason for a draft with a quote that is not in its chunk as stored.
QUOTE_NOT_IN_CHUNK = "quote_not_in_chunk"
# Dropped reason for a draft whose answer has a blocking answer-check finding.
BLOCKING_FINDING = "blocking_finding"
# Bump a kind's version when its rule changes what it drafts: the template hash (and so every
# job key of that kind) changes with it, and a rerun drafts again instead of skipping.
RULE_VERSIONS = {
    DraftKind.QA.value: "qa-2",
    DraftKind.NEGATIVE.value: "negative-3",
    DraftKind.ADVERSARIAL.value: "adversarial-2",
    DraftKind.CLARIFY.value: "clarify-2",
}
ALL_KINDS = list(RULE_VERSIONS)


def _template(kind: str) -> tuple[str, str]:
    name = f"rules/{kind}"
    return name, text_hash(f"{RULES_DRAFTER}|{kind}|{RULE_VERSIONS[kind]}")


def _plans_for(kind: str, corpus: Corpus, per_chunk: int, report: RulesReport) -> dict[str, Plan]:
    if kind == DraftKind.NEGATIVE.value:
        return plan_negatives(corpus, per_chunk, report)
    if kind == DraftKind.ADVERSARIAL.value:
        # The scarcest first (few chunks state bare limits or bind keys); the per-chunk count
        # then leaves room for them before wrong UI names fill the rest.
        plans = plan_false_premises(corpus, per_chunk)
        plans = plan_wrong_keys(corpus, per_chunk, plans)
        plans = plan_wrong_commands(corpus, per_chunk, plans)
        plans = plan_wrong_ui_names(corpus, per_chunk, plans)
        # Injections and declines can stand on many chunks: they take the room left.
        plans = plan_injections(corpus, per_chunk, plans)
        return plan_out_of_scope(corpus, per_chunk, plans)
    if kind == DraftKind.QA.value:
        return plan_qas(corpus, per_chunk)
    if kind == DraftKind.CLARIFY.value:
        return plan_clarify(corpus, per_chunk)
    raise ValueError(f"unknown draft kind for the rules drafter: {kind}")


def _params(per_chunk: int, plan: Plan) -> dict[str, Any]:
    # inputs_hash: what this chunk's drafts depend on beyond the chunk itself (the scope file,
    # the glossary, other chunks). Keying the job on it means a changed scope entry or a new
    # doc elsewhere drafts again, while an unchanged corpus reruns as a no-op.
    inputs = [d.model_dump(mode="json") for d in plan.drafts]
    dropped = [d.as_record() for d in plan.dropped_drafts]
    params: dict[str, Any] = {
        "per_chunk": per_chunk,
        "inputs_hash": content_hash([inputs, plan.dropped, dropped]),
    }
    if dropped:
        # What was dropped and why, with the doc:line that decided it: the call's stored
        # record is where the summary, status and the audit read it back.
        params["dropped_drafts"] = dropped
    return params


def _draft_name(draft: DraftIn) -> str:
    for key in ("feature", "wrong_name", "term"):
        value = draft.meta.get(key)
        if isinstance(value, str) and value:
            return value
    return draft.question


def _raw_quoted(corpus: Corpus, kind: str, chunk: Chunk, plan: Plan) -> Plan:
    """The plan with every evidence quote (drafted from the chunk's plain text) as the exact
    span of the stored chunk it came from, as the LLM path stores its quotes; a draft with a
    quote that cannot be placed is dropped with its reason."""
    raw = corpus.raw[chunk.id].text
    kept = Plan([], dict(plan.dropped), list(plan.dropped_drafts))
    for draft in plan.drafts:
        evidence = [raw_quote(raw, quote) for quote in draft.evidence]
        placed = [quote for quote in evidence if quote is not None]
        if len(placed) != len(evidence):
            kept.drop(DroppedDraft(kind, _draft_name(draft), QUOTE_NOT_IN_CHUNK))
            continue
        meta = dict(draft.meta)
        if "docs_deny" in meta:
            meta["docs_deny"] = [
                {**denial, "quote": raw_quote(raw, denial["quote"]) or denial["quote"]}
                for denial in meta["docs_deny"]
            ]
        kept.drafts.append(draft.model_copy(update={"evidence": placed, "meta": meta}))
    return kept


class _AnswerChecks:
    """The LLM path's answer checks on rules drafts: the ledger's full-text search is the
    corpus, the product name and glossary the known names; each lookup is made once."""

    def __init__(self, ledger: Ledger, scope: Scope) -> None:
        self.ledger = ledger
        self.known_names = [scope.product.name, *scope.glossary.names()]
        self._in_docs: dict[str, bool] = {}

    def in_docs(self, name: str) -> bool:
        if name not in self._in_docs:
            self._in_docs[name] = path_in_docs(self.ledger, name)
        return self._in_docs[name]

    def checked(self, kind: str, chunk: Chunk, plan: Plan) -> Plan:
        """The plan with ``meta["findings"]`` on every draft, and a draft with a blocking
        finding dropped with its reason."""
        kept = Plan([], dict(plan.dropped), list(plan.dropped_drafts))
        for draft in plan.drafts:
            findings = check_answer(
                draft.answer,
                chunk.text,
                question=draft.question,
                known_names=self.known_names,
                corpus_search=self.in_docs,
            )
            blocking = [f for f in findings if f.blocking]
            if blocking:
                detail = "; ".join(f"{f.check}: {f.detail}" for f in blocking)
                kept.drop(DroppedDraft(kind, _draft_name(draft), BLOCKING_FINDING, text=detail))
                continue
            meta = {**draft.meta, "findings": [f.as_meta() for f in findings]}
            kept.drafts.append(draft.model_copy(update={"meta": meta}))
        return kept


def run_rules_drafter(
    ledger: Ledger,
    scope: Scope,
    kinds: list[str],
    per_chunk: int = 3,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
) -> RulesReport:
    """Draft the given kinds from the ledger's current chunks with rules; no network.

    ``dry_run`` drafts the same in memory and reports it, writing nothing."""
    if per_chunk < 1:
        raise ValueError("per_chunk must be at least 1")
    unknown = [k for k in kinds if k not in RULE_VERSIONS]
    if unknown:
        raise ValueError(f"unknown draft kind for the rules drafter: {', '.join(unknown)}")
    report = RulesReport()
    corpus = Corpus(ledger, scope)
    checks = _AnswerChecks(ledger, scope)
    finished = ledger.finished_job_keys()
    jobs: list[tuple[GenerationCall, list[DraftIn]]] = []
    for kind in dict.fromkeys(kinds):
        plans = _plans_for(kind, corpus, per_chunk, report)
        template_name, template_hash = _template(kind)
        for chunk in corpus.chunks:
            plan = plans.get(chunk.id)
            if plan is None:
                continue
            plan = checks.checked(kind, chunk, _raw_quoted(corpus, kind, chunk, plan))
            # A draft repeating doc text addressed to an AI carries a finding for the reviewer.
            drafts = [with_injected_findings(d, chunk.text) for d in plan.drafts[:per_chunk]]
            kept = Plan(drafts, dict(plan.dropped), list(plan.dropped_drafts))
            for extra in plan.drafts[per_chunk:]:
                # A chunk with more candidates than the job asks for: each one left out is
                # listed, so no candidate disappears without a reason.
                kept.drop(DroppedDraft(kind, _draft_name(extra), PER_CHUNK_FULL))
            params = _params(per_chunk, kept)
            spec = JobSpec(
                chunk_id=chunk.id,
                chunk_text_hash=chunk.text_hash,
                kind=DraftKind(kind),
                subtype=None,
                drafter=RULES_DRAFTER,
                template_name=template_name,
                template_hash=template_hash,
                model=RULES_MODEL,
                params=params,
                count=per_chunk,
            )
            if spec.key in finished:
                report.jobs_skipped += 1
                continue
            dropped = dict(kept.dropped)
            # The rules found fewer things worth drafting in this chunk than were asked for.
            # Said in the drafter's own words, so the summary does not read as drafts that went
            # missing (the ledger would otherwise count them as a short reply).
            unfound = per_chunk - len(drafts) - sum(dropped.values())
            if unfound > 0:
                dropped[NOTHING_MORE_TO_DRAFT] = unfound
            requested = max(per_chunk, len(drafts) + sum(dropped.values()))
            call = build_call(
                spec,
                started_at=utc_now(),
                produced=len(drafts),
                dropped=dropped,
                requested=requested,
            )
            jobs.append((call, drafts))
    if limit is not None:
        jobs = jobs[: max(0, limit)]
    if dry_run:
        # Every document is listed, the ones the rules find nothing to draft from too.
        for path in corpus.document_paths.values():
            report.drafts_by_document.setdefault(path, {})
    for done, (call, drafts) in enumerate(jobs, start=1):
        if dry_run:
            report.calls_ok += 1
            report.drafts_requested += call.requested
            kind = call.kind.value
            report.drafts_by_kind[kind] = report.drafts_by_kind.get(kind, 0) + len(drafts)
            path = corpus.document_paths.get(corpus.raw[call.chunk_id].document_id, "?")
            by_kind = report.drafts_by_document.setdefault(path, {})
            by_kind[kind] = by_kind.get(kind, 0) + len(drafts)
            for reason, count in call.dropped.items():
                report.dropped[reason] = report.dropped.get(reason, 0) + count
            continue
        outcome = ledger.record_call(call, drafts)
        report.calls_ok += 1
        report.drafts_requested += call.requested
        kind = call.kind.value
        stored = len(outcome.stored_draft_ids)
        report.drafts_by_kind[kind] = report.drafts_by_kind.get(kind, 0) + stored
        report.dropped_drafts.extend(call.params.get("dropped_drafts", []))
        for reason, count in outcome.call.dropped.items():
            report.dropped[reason] = report.dropped.get(reason, 0) + count
        if on_progress is not None:
            on_progress(done, len(jobs))
    return report
