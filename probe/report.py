"""A probe run as a typed report: pass rates by kind, subtype, document and source, the
over-refusal rate, how often the LLM judge agreed, and the worst failures verbatim.

Built from the run's rows as the ledger stores them, so a report says exactly what was
recorded. A probe whose call failed (timeout, endpoint error) is counted apart: it says
nothing about the model, so it is in no pass rate.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

PROBE_REPORT_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tally(_Section):
    probes: int  # answered probes
    passed: int
    pass_rate: float | None


class RunInfo(_Section):
    run_id: str
    run_hash: str
    export_id: str
    export_manifest_hash: str
    model: str
    endpoint_host: str | None
    judge_model: str | None
    params: dict[str, Any]
    started_at: str
    finished_at: str


class Totals(_Section):
    probes: int
    answered: int
    errors: int
    passed: int
    pass_rate: float | None
    qa_probes: int
    over_refusals: int
    over_refusal_rate: float | None
    failure_drafts: int
    judged: int  # answers the LLM judge gave a verdict on
    judge_agrees: int  # ... where its verdict is the code's


class Failure(_Section):
    ordinal: int
    source: str
    kind: str
    subtype: str | None
    document: str
    question: str
    model_answer: str | None
    reference: str
    reasons: list[str]
    error: str | None
    judge: dict[str, Any] | None
    failure_draft_id: str | None


class ProbeReport(_Section):
    draftgate_probe: int = PROBE_REPORT_VERSION
    run: RunInfo
    totals: Totals
    by_kind: dict[str, Tally]
    by_subtype: dict[str, Tally]
    by_document: dict[str, Tally]
    by_source: dict[str, Tally]
    # Worst first: over-refusals, then by the number of rules broken; errors last.
    failures: list[Failure]

    @property
    def pass_rate(self) -> float | None:
        return self.totals.pass_rate

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"


def _rate(passed: int, total: int) -> float | None:
    return round(passed / total, 4) if total else None


def _tally(answers: list[dict[str, Any]], key: str) -> dict[str, Tally]:
    groups: dict[str, list[bool]] = {}
    for answer in answers:
        if answer["error"] is not None:
            continue
        value = answer[key]
        if key == "subtype" and value is None:
            value = answer["kind"]
        groups.setdefault(str(value), []).append(bool(answer["passed"]))
    return {
        name: Tally(
            probes=len(results), passed=sum(results), pass_rate=_rate(sum(results), len(results))
        )
        for name, results in sorted(groups.items())
    }


def build_report(run: dict[str, Any], answers: list[dict[str, Any]]) -> ProbeReport:
    """The report of one stored run (``ledger.probes.probe_runs`` / ``probe_answers`` rows)."""
    answered = [a for a in answers if a["error"] is None]
    passed = sum(1 for a in answered if a["passed"])
    qa = [a for a in answered if a["kind"] == "qa"]
    over = sum(1 for a in qa if a["over_refusal"])
    judged = [a for a in answered if a["judge"] and "passed" in a["judge"]]
    failures = [a for a in answers if not a["passed"]]
    failures.sort(
        key=lambda a: (
            a["error"] is not None,
            not a["over_refusal"],
            -len(a["reasons"]),
            a["ordinal"],
        )
    )
    return ProbeReport(
        run=RunInfo(
            run_id=run["id"],
            run_hash=run["run_hash"],
            export_id=run["export_id"],
            export_manifest_hash=run["export_manifest_hash"],
            model=run["model"],
            endpoint_host=run["endpoint_host"],
            judge_model=run["judge_model"],
            params=run["params"],
            started_at=run["started_at"],
            finished_at=run["finished_at"],
        ),
        totals=Totals(
            probes=len(answers),
            answered=len(answered),
            errors=len(answers) - len(answered),
            passed=passed,
            pass_rate=_rate(passed, len(answered)),
            qa_probes=len(qa),
            over_refusals=over,
            over_refusal_rate=_rate(over, len(qa)),
            failure_drafts=sum(1 for a in answers if a["failure_draft_id"]),
            judged=len(judged),
            judge_agrees=sum(1 for a in judged if a["judge"]["passed"] == a["passed"]),
        ),
        by_kind=_tally(answers, "kind"),
        by_subtype=_tally(answers, "subtype"),
        by_document=_tally(answers, "document"),
        by_source=_tally(answers, "source"),
        failures=[
            Failure(
                ordinal=a["ordinal"],
                source=a["source"],
                kind=a["kind"],
                subtype=a["subtype"],
                document=a["document"],
                question=a["question"],
                model_answer=a["model_answer"],
                reference=a["reference"],
                reasons=a["reasons"],
                error=a["error"],
                judge=a["judge"],
                failure_draft_id=a["failure_draft_id"],
            )
            for a in failures
        ],
    )
