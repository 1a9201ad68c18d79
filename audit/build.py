"""``build_audit``: the integrity check and the quality signals of one ledger, as an ``Audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from audit.integrity import check_integrity
from audit.model import (
    AUDIT_VERSION,
    AiAddressedSentence,
    AiAddressedText,
    Audit,
    AuditHead,
    DroppedCandidateRow,
    DroppedCandidates,
    IntegritySummary,
    ProvenanceRow,
    Quality,
)
from audit.quality import QualityWorker, compute_quality
from audit.training_runs import training_runs_section
from ledger import Ledger, utc_now
from ledger.progress import NO_PROGRESS, Progress

# From this many decisions on, the quality signals are computed in a second process while the
# integrity check runs here: the two only read the ledger and each takes seconds at 100k
# records. Below it, starting a process costs more than it saves.
PARALLEL_AUDIT_MIN_DECISIONS = 20_000


def build_audit(
    ledger: Ledger,
    export_dirs: list[Path],
    *,
    fast_decision_ms: int,
    target_mix: dict[str, float],
    glossary_names: list[str],
    parallel: bool | None = None,
    progress: Progress = NO_PROGRESS,
) -> Audit:
    """The whole audit. ``parallel`` (default: by ledger size) computes the quality signals in
    a worker process while the integrity check runs in this one."""
    quality_options: dict[str, Any] = {
        "fast_decision_ms": fast_decision_ms,
        "target_mix": target_mix,
        "glossary_names": glossary_names,
    }
    head = ledger.head()
    if parallel is None:
        parallel = ledger.path != ":memory:" and head.seq >= PARALLEL_AUDIT_MIN_DECISIONS
    if parallel:
        worker = QualityWorker(ledger.path, quality_options)
        try:
            integrity = check_integrity(ledger, export_dirs, progress)
        except BaseException:  # Ctrl-C or a failed check: the worker must not outlive us
            worker.stop()
            raise
        quality = worker.result()
    else:
        integrity = check_integrity(ledger, export_dirs, progress)
        quality = compute_quality(ledger, **quality_options)
    origins = ledger.drafts_by_origin()
    # Only set (and so only in the JSON) when a draft came from elsewhere than the drafter.
    by_origin = {"drafts_by_origin": origins} if set(origins) - {"generate"} else {}
    summary = IntegritySummary.model_validate(integrity.as_dict())
    runs, run_breaks = training_runs_section(ledger)
    if run_breaks:
        summary = summary.model_copy(update={"ok": False, "breaks": [*summary.breaks, *run_breaks]})
    return Audit(
        **by_origin,
        draftgate_audit=AUDIT_VERSION,
        generated_at=utc_now(),
        ledger=ledger.path,
        head=AuditHead(seq=head.seq, hash=head.hash),
        integrity=IntegritySummary.model_validate(integrity.as_dict()),
        # The integrity check builds each row from PROVENANCE_FIELDS, the keys of ProvenanceRow.
        provenance=cast(list[ProvenanceRow], integrity.provenance),
        quality=Quality.model_validate(quality),
        dropped_candidates=dropped_candidates(ledger),
        ai_addressed_text=ai_addressed_text(ledger),
        training_runs=training_runs_section(ledger),
    )


def dropped_candidates(ledger: Ledger) -> DroppedCandidates:
    """What the current generation calls dropped, counted by kind and reason, each listed."""
    found = ledger.dropped_candidates()
    counts: dict[str, dict[str, int]] = {}
    for item in found:
        reasons = counts.setdefault(item.kind, {})
        reasons[item.reason] = reasons.get(item.reason, 0) + 1
    return DroppedCandidates(
        count=len(found),
        by_kind_and_reason={k: dict(sorted(v.items())) for k, v in sorted(counts.items())},
        candidates=[
            DroppedCandidateRow(
                kind=d.kind, name=d.name, reason=d.reason, at=d.at, text=d.text, drafter=d.drafter
            )
            for d in found
        ],
    )


def ai_addressed_text(ledger: Ledger) -> AiAddressedText:
    """The current docs' sentences addressed to an AI assistant, as ingest flagged them."""
    flags = ledger.ai_addressed_text()
    return AiAddressedText(
        count=len(flags),
        sentences=[AiAddressedSentence(at=f.at, sentence=f.sentence) for f in flags],
    )
