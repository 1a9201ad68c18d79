"""``generate --redraft-rejected``: draft again where reviewers rejected drafts, telling the
model what they rejected and why.

A rejected draft counts when its latest decision in force is a reject, it was drafted from the
docs (origin ``generate``) and its chunk's text is still in the current docs. Rejected drafts
are grouped by (chunk, kind, subtype): each group is one job asking for as many new drafts as
it holds, with the kind's prompt plus ``_redraft.j2``, which shows each rejected question and
answer with the reviewer's reason and note, fenced as data like the docs text.

The job's params name the rejected drafts and their reasons (``redraft_of``,
``redraft_reasons``): they are part of the job key, so a redraft never collides with the job
that made the rejected drafts, and every draft the job stores carries them in its meta (the
link a reviewer and the audit follow). A rejected draft named by an ok call's ``redraft_of``
has been redrafted: a later run leaves it alone, even under another model.

The rules drafter cannot use a reviewer's reasons (its output is fixed by the chunk and the
scope), so a rules run redrafts nothing and says how many rejections it left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from generator.calls import JobSpec
from generator.checks import phrases_of_template
from generator.plain import plain_text
from generator.prompts import (
    PromptsError,
    PromptSet,
    RenderedPrompt,
    defuse_fence,
    scope_variables,
)
from generator.runner import LLM_DRAFTER, REDRAFT_OF, REDRAFT_REASONS, Job, Plan
from generator.scope import Scope
from ledger import Chunk, DraftKind, DraftOrigin, Ledger, RejectReason, draft_origin
from ledger.ids import text_hash

REDRAFT_PARTIAL = "_redraft.j2"
# The review fence of ``_redraft.j2``: a reviewer's note or a rejected answer containing a
# marker would end the fence early, so it is broken by a zero-width space as doc text is.
REVIEW_MARKERS = ("<<<REVIEW", "REVIEW>>>")
_ZERO_WIDTH_SPACE = "\u200b"

# What each reject reason asks of the next draft, in words a model acts on.
REASON_TEXT = {
    RejectReason.WRONG_FACTS: "the answer states facts the excerpt does not say or contradicts",
    RejectReason.NOT_GROUNDED: "the draft is not supported by the excerpt",
    RejectReason.INVENTED_FEATURE_OR_UI: (
        "the draft names a feature, page, button, key or command the product does not have"
    ),
    RejectReason.DUPLICATE: "the draft repeats another draft; ask something different",
    RejectReason.UNSAFE: "the draft is unsafe to train on",
    RejectReason.OFF_STYLE: "the wording or tone is wrong for the assistant",
    RejectReason.OTHER: "see the reviewer's note",
}

RULES_SKIP_MESSAGE = (
    "rules drafter: {n} rejected drafts skipped: the rules drafter cannot use reviewer "
    "reasons; use an LLM endpoint"
)

_REJECTED_SQL = """
    SELECT dr.id, dr.chunk_id, dr.kind, dr.subtype, dr.question, dr.answer,
           de.reason, de.note, gc.drafter, c.text_hash
    FROM draft_status s
    JOIN drafts dr ON dr.id = s.draft_id
    JOIN decisions de ON de.id = s.decision_id
    JOIN generation_calls gc ON gc.id = dr.call_id
    JOIN chunks c ON c.id = dr.chunk_id
    WHERE s.verdict = 'reject'
    ORDER BY dr.rowid
"""
# Every draft an ok call already redrafted (its params name it in ``redraft_of``).
_REDRAFTED_SQL = f"""
    SELECT DISTINCT je.value FROM generation_calls gc, json_each(gc.params, '$.{REDRAFT_OF}') je
    WHERE gc.status = 'ok'
"""


@dataclass(frozen=True)
class RejectedDraft:
    draft_id: str
    kind: DraftKind
    subtype: str | None
    question: str
    answer: str
    reason: str
    note: str | None

    def as_link(self) -> dict[str, Any]:
        """What a redraft records of the draft it replaces."""
        return {"draft_id": self.draft_id, "reason": self.reason, "note": self.note}

    def as_prompt(self) -> dict[str, str]:
        """The template's values: every one reviewer- or model-written, so defused."""
        try:
            reason_text = REASON_TEXT[RejectReason(self.reason)]
        except ValueError:
            reason_text = "see the reviewer's note"
        return {
            "question": defuse_review_fence(self.question),
            "answer": defuse_review_fence(self.answer),
            "reason": self.reason,
            "reason_text": reason_text,
            "note": defuse_review_fence(self.note or ""),
        }


@dataclass
class Rejections:
    """The rejected drafts a redraft run can use, grouped by the current chunk they are on,
    and the ones it leaves, by why."""

    groups: dict[tuple[str, DraftKind, str | None], list[RejectedDraft]] = field(
        default_factory=dict
    )
    chunks: dict[str, Chunk] = field(default_factory=dict)  # the current chunks they are on
    already_redrafted: int = 0
    stale: int = 0  # their chunk's text is no longer in the docs
    other_origin: int = 0  # probe or import drafts: not drafted from a chunk's prompt

    @property
    def count(self) -> int:
        return sum(len(group) for group in self.groups.values())


def defuse_review_fence(text: str) -> str:
    """``text`` with both fences' markers (docs and review) broken by a zero-width space."""
    opener, closer = REVIEW_MARKERS
    text = text.replace(opener, opener[:3] + _ZERO_WIDTH_SPACE + opener[3:])
    text = text.replace(closer, closer[:6] + _ZERO_WIDTH_SPACE + closer[6:])
    return defuse_fence(text)


def find_rejections(ledger: Ledger, kinds: Sequence[str]) -> Rejections:
    """Rejected drafts of ``kinds`` not yet redrafted, grouped by (current chunk, kind,
    subtype) in docs order."""
    current: dict[str, Chunk] = {}
    for chunk in ledger.current_chunks():
        current.setdefault(chunk.text_hash, chunk)
    redrafted = {row[0] for row in ledger.query(_REDRAFTED_SQL)}
    wanted = {DraftKind(k) for k in kinds}
    found = Rejections()
    unordered: dict[tuple[str, DraftKind, str | None], list[RejectedDraft]] = {}
    for row in ledger.query(_REJECTED_SQL):
        kind = DraftKind(row["kind"])
        if kind not in wanted:
            continue
        if draft_origin(row["drafter"]) is not DraftOrigin.GENERATE:
            found.other_origin += 1
            continue
        if row["id"] in redrafted:
            found.already_redrafted += 1
            continue
        on = current.get(row["text_hash"])
        if on is None:
            found.stale += 1
            continue
        found.chunks[on.id] = on
        rejected = RejectedDraft(
            draft_id=row["id"],
            kind=kind,
            subtype=row["subtype"],
            question=row["question"],
            answer=row["answer"],
            reason=row["reason"] or RejectReason.OTHER.value,
            note=row["note"],
        )
        unordered.setdefault((on.id, kind, row["subtype"]), []).append(rejected)
    order = {chunk.id: index for index, chunk in enumerate(current.values())}
    for key in sorted(unordered, key=lambda k: (order[k[0]], k[1].value, k[2] or "")):
        found.groups[key] = unordered[key]
    return found


def redraft_template_hash(prompts: PromptSet, kind: str) -> str:
    """The identity of a redraft prompt: the kind's templates and ``_redraft.j2``, hashed as
    ``PromptSet.template_hash`` hashes a kind's."""
    parts = [*prompts.templates_of(kind), REDRAFT_PARTIAL]
    return text_hash("\n\x00\n".join(f"{name}\n{prompts.source(name)}" for name in parts))


def render_redraft(
    prompts: PromptSet,
    kind: str,
    variables: dict[str, Any],
    rejected: Sequence[RejectedDraft],
) -> RenderedPrompt:
    """The kind's prompt with the rejected drafts, reasons and notes after it."""
    base = prompts.render(kind, variables)
    try:
        block = prompts.env.get_template(REDRAFT_PARTIAL).render(
            rejected=[r.as_prompt() for r in rejected], count=variables["count"]
        )
    except jinja2.TemplateError as exc:
        raise PromptsError(f"prompt template {prompts.folder / REDRAFT_PARTIAL}: {exc}") from exc
    system, user = base.messages
    phrases = (*base.prompt_phrases, *phrases_of_template(prompts.source(REDRAFT_PARTIAL)))
    return RenderedPrompt(
        messages=[system, {"role": "user", "content": user["content"] + "\n" + block}],
        template_name=f"{base.template_name}+{REDRAFT_PARTIAL}",
        template_hash=redraft_template_hash(prompts, kind),
        prompt_phrases=tuple(dict.fromkeys(phrases)),
    )


def plan_redraft_jobs(
    ledger: Ledger,
    scope: Scope,
    prompts: PromptSet,
    *,
    kinds: Sequence[str],
    model: str,
    params: dict[str, Any],
    limit: int | None = None,
) -> Plan:
    """One job per (chunk, kind, subtype) with rejected drafts not yet redrafted."""
    rejections = find_rejections(ledger, kinds)
    finished = ledger.finished_job_keys()
    paths = {d.id: d.path for d in ledger.current_documents()}
    product = scope_variables(scope)
    plan = Plan(jobs=[])
    for (chunk_id, kind, subtype), rejected in rejections.groups.items():
        chunk = rejections.chunks[chunk_id]
        document_path = paths.get(chunk.document_id, "")
        variables = {
            **product,
            "document_path": document_path,
            "heading": " > ".join(chunk.heading_path),
            "start_line": chunk.start_line,
            "end_line": chunk.end_line,
            "chunk": plain_text(chunk.text),
            "count": len(rejected),
            "subtype": subtype,
        }
        prompt = render_redraft(prompts, kind.value, variables, rejected)
        spec = JobSpec(
            chunk_id=chunk.id,
            chunk_text_hash=chunk.text_hash,
            kind=kind,
            subtype=subtype,
            drafter=LLM_DRAFTER,
            template_name=prompt.template_name,
            template_hash=prompt.template_hash,
            model=model,
            params={
                **params,
                REDRAFT_OF: [r.draft_id for r in rejected],
                REDRAFT_REASONS: [r.as_link() for r in rejected],
            },
            count=len(rejected),
        )
        if spec.key in finished:
            plan.skipped_finished += 1
            continue
        plan.jobs.append(Job(spec, chunk, document_path, prompt))
        if limit is not None and len(plan.jobs) >= limit:
            break
    return plan


def check_redraft_template(prompts: PromptSet) -> None:
    """``_redraft.j2`` exists and parses; else PromptsError naming it."""
    path = prompts.folder / REDRAFT_PARTIAL
    try:
        prompts.env.parse(prompts.source(REDRAFT_PARTIAL), REDRAFT_PARTIAL, str(path))
    except OSError as exc:
        raise PromptsError(f"prompt template {path}: {exc.strerror or exc}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise PromptsError(f"prompt template {path}: line {exc.lineno}: {exc.message}") from exc


def describe_rejections(rejections: Rejections) -> str:
    """One line: what a redraft run found to redraft, and what it leaves and why."""
    line = f"redraft: {rejections.count} rejected drafts in {len(rejections.groups)} jobs"
    left = [
        f"{n} {why}"
        for n, why in (
            (rejections.already_redrafted, "already redrafted"),
            (rejections.stale, "whose source changed"),
            (rejections.other_origin, "from probe or import"),
        )
        if n
    ]
    return line + (f"; left alone: {', '.join(left)}" if left else "")


def rules_skip_message(ledger: Ledger, kinds: Sequence[str]) -> str:
    """What a rules run with ``--redraft-rejected`` says instead of drafting."""
    return RULES_SKIP_MESSAGE.format(n=find_rejections(ledger, kinds).count)
