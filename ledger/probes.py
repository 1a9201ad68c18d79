"""Probe runs in the ledger: a model asked an export's questions, each answer with its verdict.

A run row names the export it probed and that export's manifest hash; each answer row carries
its own hash, the run row hashes the list of them (``answers_hash``) and its own fields
(``run_hash``), so ``verify`` tells an edited answer or run. A failed answer becomes a draft
(drafter ``PROBE_DRAFTER``) stored in the same transaction as the run, so a run is never
recorded without its failures in the review queue, nor the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.ids import content_hash, new_event_id
from ledger.migrations import PROBE_RUNS_SCHEMA
from ledger.models import PROBE_DRAFTER, DraftIn, DraftKind, Frozen, GenerationCall
from ledger.store import Ledger, utc_now

PROBE_TEMPLATE_NAME = "probe"
# Probe drafts are not drafted from a prompt template; the call rows name this in its place.
PROBE_TEMPLATE_HASH = content_hash({"template": PROBE_TEMPLATE_NAME})

# The fields each hash covers, in stored order.
ANSWER_FIELDS = (
    "run_id",
    "ordinal",
    "draft_id",
    "decision_id",
    "source",
    "kind",
    "subtype",
    "document",
    "question",
    "canary",
    "reference",
    "model_answer",
    "error",
    "passed",
    "over_refusal",
    "reasons",
    "judge",
    "latency_ms",
    "failure_draft_id",
)
RUN_FIELDS = (
    "id",
    "export_id",
    "export_manifest_hash",
    "model",
    "endpoint_host",
    "judge_model",
    "params",
    "started_at",
    "finished_at",
    "probe_count",
    "passed_count",
    "failure_drafts",
    "answers_hash",
)


class ProbeRunIn(Frozen):
    """A probe run as the prober hands it over."""

    id: str
    export_id: str
    export_manifest_hash: str
    model: str
    endpoint_host: str | None = None
    judge_model: str | None = None
    params: dict[str, Any]
    started_at: str
    finished_at: str


class ProbeAnswerIn(Frozen):
    """One probe: the question asked, the model's answer and how it was judged."""

    draft_id: str  # the signed-off draft the probe came from (the reference)
    decision_id: str  # the decision that signed it off
    chunk_id: str
    source: str  # "eval" | "held_out"
    kind: str
    subtype: str | None = None
    document: str
    question: str  # as asked (an injection probe's carries its canary)
    canary: str | None = None
    reference: str  # the signed-off answer
    model_answer: str | None = None  # None when the call failed
    error: str | None = None
    passed: bool
    over_refusal: bool = False
    reasons: list[str]
    judge: dict[str, Any] | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True)
class ProbeRunOutcome:
    run_hash: str
    # ordinal of the answer -> the draft its failure became
    failure_drafts: dict[int, str]


def answer_hash(fields: dict[str, Any]) -> str:
    return content_hash({name: fields[name] for name in ANSWER_FIELDS})


def run_hash(fields: dict[str, Any]) -> str:
    return content_hash({name: fields[name] for name in RUN_FIELDS})


def _answer_row(
    run_id: str, ordinal: int, answer: ProbeAnswerIn, failure: str | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run_id,
        "ordinal": ordinal,
        "draft_id": answer.draft_id,
        "decision_id": answer.decision_id,
        "source": answer.source,
        "kind": answer.kind,
        "subtype": answer.subtype,
        "document": answer.document,
        "question": answer.question,
        "canary": answer.canary,
        "reference": answer.reference,
        "model_answer": answer.model_answer,
        "error": answer.error,
        "passed": int(answer.passed),
        "over_refusal": int(answer.over_refusal),
        "reasons": json.dumps(answer.reasons, ensure_ascii=False),
        "judge": None if answer.judge is None else json.dumps(answer.judge, sort_keys=True),
        "latency_ms": answer.latency_ms,
        "failure_draft_id": failure,
    }
    row["answer_hash"] = answer_hash(row)
    return row


def record_probe_run(
    ledger: Ledger,
    run: ProbeRunIn,
    answers: Sequence[ProbeAnswerIn],
    failure_drafts: dict[int, DraftIn],
) -> ProbeRunOutcome:
    """Store a run, every answer, and the drafts its failures became (``failure_drafts``: the
    answer's ordinal -> the draft, on the reference draft's chunk), in one transaction."""
    if ledger.schema_version() < PROBE_RUNS_SCHEMA:
        raise ValueError("this ledger's schema has no probe runs; open it for writing to upgrade")
    params_json = json.dumps(run.params, sort_keys=True)
    with ledger.transaction() as db:
        # One generation call per (chunk, kind) of the run's failures: a call names one chunk
        # and one kind, like any drafter's.
        groups: dict[tuple[str, str], list[int]] = {}
        for ordinal, draft in failure_drafts.items():
            key = (answers[ordinal].chunk_id, draft.kind.value)
            groups.setdefault(key, []).append(ordinal)
        stored: dict[int, str] = {}
        now = utc_now()
        for (chunk_id, kind), ordinals in groups.items():
            call = GenerationCall(
                id=new_event_id(),
                job_key=f"probe:{run.id}:{chunk_id}:{kind}",
                kind=DraftKind(kind),
                chunk_id=chunk_id,
                drafter=PROBE_DRAFTER,
                template_name=PROBE_TEMPLATE_NAME,
                template_hash=PROBE_TEMPLATE_HASH,
                model=run.model,
                endpoint_host=run.endpoint_host,
                params=run.params,
                requested=len(ordinals),
                started_at=run.started_at,
                finished_at=now,
            )
            drafts = [failure_drafts[o] for o in ordinals]
            outcome = ledger._insert_call(db, call, drafts)
            # Each failure's draft is unique (its meta names the run and the reference), so
            # every one is stored, in order.
            for ordinal, draft_id_ in zip(ordinals, outcome.stored_draft_ids, strict=True):
                stored[ordinal] = draft_id_
        rows = [_answer_row(run.id, i, a, stored.get(i)) for i, a in enumerate(answers)]
        fields: dict[str, Any] = {
            "id": run.id,
            "export_id": run.export_id,
            "export_manifest_hash": run.export_manifest_hash,
            "model": run.model,
            "endpoint_host": run.endpoint_host,
            "judge_model": run.judge_model,
            "params": params_json,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "probe_count": len(answers),
            "passed_count": sum(1 for a in answers if a.passed),
            "failure_drafts": len(stored),
            "answers_hash": content_hash([r["answer_hash"] for r in rows]),
        }
        fields["run_hash"] = run_hash(fields)
        marks = ", ".join("?" for _ in fields)
        db.execute(
            f"INSERT INTO probe_runs({', '.join(fields)}) VALUES ({marks})", list(fields.values())
        )
        if rows:
            columns = list(rows[0])
            db.executemany(
                f"INSERT INTO probe_answers({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                [[r[c] for c in columns] for r in rows],
            )
    return ProbeRunOutcome(fields["run_hash"], stored)


def probe_runs(ledger: Ledger) -> list[dict[str, Any]]:
    """Every probe run, oldest first (params decoded)."""
    if ledger.schema_version() < PROBE_RUNS_SCHEMA:
        return []
    runs = []
    for row in ledger.query("SELECT * FROM probe_runs ORDER BY started_at, id"):
        run = dict(row)
        run["params"] = json.loads(run["params"])
        runs.append(run)
    return runs


def probe_answers(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    """A run's answers in the order they were asked (reasons and judge decoded)."""
    answers = []
    for row in ledger.query(
        "SELECT * FROM probe_answers WHERE run_id = ? ORDER BY ordinal", (run_id,)
    ):
        answer = dict(row)
        answer["reasons"] = json.loads(answer["reasons"])
        answer["judge"] = json.loads(answer["judge"]) if answer["judge"] else None
        answer["passed"] = bool(answer["passed"])
        answer["over_refusal"] = bool(answer["over_refusal"])
        answers.append(answer)
    return answers


def pending_probe_references(ledger: Ledger, reference_ids: Sequence[str]) -> set[str]:
    """Of ``reference_ids``, those with a probe draft still waiting for review: a rerun does
    not queue the same failure twice."""
    if not reference_ids:
        return set()
    rows = ledger.query(
        "SELECT json_extract(dr.meta, '$.probe.reference_draft_id') FROM drafts dr"
        " JOIN generation_calls gc ON gc.id = dr.call_id"
        " WHERE gc.drafter = ? AND json_extract(dr.meta, '$.probe.reference_draft_id')"
        " IN (SELECT value FROM json_each(?))"
        " AND NOT EXISTS (SELECT 1 FROM live_decisions ld WHERE ld.draft_id = dr.id)",
        (PROBE_DRAFTER, json.dumps(list(reference_ids))),
    )
    return {r[0] for r in rows}


@dataclass(frozen=True)
class ProbeBreak:
    kind: str
    ref: str
    detail: str


def probe_run_breaks(ledger: Ledger) -> list[ProbeBreak]:
    """Answers or runs whose stored hash no longer matches their fields, and runs whose
    answers_hash no longer matches their answers (one removed, added or reordered)."""
    if ledger.schema_version() < PROBE_RUNS_SCHEMA:
        return []
    breaks: list[ProbeBreak] = []
    by_run: dict[str, list[str]] = {}
    for row in ledger.query("SELECT * FROM probe_answers ORDER BY run_id, ordinal"):
        fields = dict(row)
        by_run.setdefault(fields["run_id"], []).append(fields["answer_hash"])
        if answer_hash(fields) != fields["answer_hash"]:
            ref = f"{fields['run_id']}#{fields['ordinal']}"
            breaks.append(ProbeBreak("probe_answer_changed", ref, "its hash no longer matches"))
    for row in ledger.query("SELECT * FROM probe_runs ORDER BY id"):
        fields = dict(row)
        if content_hash(by_run.get(fields["id"], [])) != fields["answers_hash"]:
            breaks.append(
                ProbeBreak("probe_answers_changed", fields["id"], "its answers were changed")
            )
        if run_hash(fields) != fields["run_hash"]:
            breaks.append(
                ProbeBreak("probe_run_changed", fields["id"], "its hash no longer matches")
            )
    return breaks
