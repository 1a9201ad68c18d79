"""The audit as a typed value: what ``build_audit`` returns and every renderer reads.

Field order is the order of the JSON report. Numbers that are ratios or rounded scores are
``Number`` (int or float): a value is kept as the type it was computed as, so the JSON report
prints ``0`` where the computation gave an int and ``0.0`` where it gave a float.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SkipValidation
from typing_extensions import TypedDict

Number = int | float
AUDIT_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuditHead(_Section):
    seq: int
    hash: str


class IntegrityBreak(_Section):
    kind: str
    ref: str
    detail: str
    # Set when the break is about one record / found in one export folder.
    draft_id: str | None = None
    export_id: str | None = None
    format: str | None = None


class RecordExport(_Section):
    """One export a record is in."""

    export_id: str
    format: str
    split: str | None = None


class NamedRecord(_Section):
    """A draft as a reader knows it: its question (as signed off, if it was), its kind, and the
    exports checked that hold it (none for a draft never exported)."""

    question: str
    kind: str
    exports: list[RecordExport]


class IntegritySummary(_Section):
    ok: bool
    breaks: list[IntegrityBreak]
    exports_checked: int
    heads_checked: int
    stale_drafts: list[str]
    stale_in_export: list[str]
    # Imported drafts no doc passage supports (meta import.grounded false), in the ledger and
    # among the records of the exports checked: not breaks (a reviewer signed them off as
    # they are), but a reader must see that they rest on no doc.
    ungrounded_drafts: list[str] = []
    ungrounded_in_export: list[str] = []
    # Every draft a break or the stale- or ungrounded-in-export lists name, by draft id.
    records: dict[str, NamedRecord] = {}


class ExportRef(TypedDict):
    export_id: str
    format: str
    split: str


class ProvenanceRow(TypedDict):
    """Where one exported record came from, and who signed it off. A record in several of the
    exports checked is one row listing each export."""

    record_hash: str
    draft_id: str
    decision_id: str
    question: str | None
    exports: list[ExportRef]
    kind: str | None
    subtype: str | None
    document: str | None
    start_line: int | None
    end_line: int | None
    chunk_hash: str | None
    template_name: str | None
    template_hash: str | None
    model: str | None
    generated_at: str | None
    reviewer: str | None
    verdict: str | None
    decided_at: str | None


class QualityParameters(_Section):
    fast_decision_ms: int
    near_duplicate_min: Number
    contradiction_question_min: Number
    contradiction_answer_max: Number
    list_cap: int


class QualityTotals(_Section):
    live_decisions: int
    drafts_decided: int
    signed_off_examples: int


class VerdictTally(_Section):
    decisions: int
    approved: int
    edited: int
    rejected: int
    edit_rate: Number | None
    mean_edit_distance: Number | None
    # Only in ``by_template``: the names a template hash was used under.
    template_names: list[str] | None = None


class EditRates(_Section):
    overall: VerdictTally
    by_kind: dict[str, VerdictTally]
    by_subtype: dict[str, VerdictTally]
    by_template: dict[str, VerdictTally]
    by_model: dict[str, VerdictTally]
    by_document: dict[str, VerdictTally]
    by_reviewer: dict[str, VerdictTally]


class DwellTally(_Section):
    decisions: int
    measured: int
    fast: int
    fast_signoffs: int
    share: Number | None
    median_dwell_ms: int | None
    # Decided before shown: a clock that went backwards, never counted as a fast decision.
    clock_anomalies: int = 0


class FastDecisions(_Section):
    threshold_ms: int
    decisions: int
    measured: int
    fast: int
    fast_signoffs: int
    share: Number | None
    median_dwell_ms: int | None
    clock_anomalies: int = 0
    by_reviewer: dict[str, DwellTally]


class UncoveredChunk(_Section):
    chunk_id: str
    path: str
    heading: str
    start_line: int
    end_line: int


class Coverage(_Section):
    chunks_total: int
    chunks_covered: int
    chunk_share: Number | None
    documents_total: int
    documents_covered: int
    uncovered_chunks: list[UncoveredChunk]
    uncovered_documents: list[str]


class KindShare(_Section):
    count: int
    share: Number
    target: Number
    deviation: Number


class Balance(_Section):
    total: int
    kinds: dict[str, KindShare]
    max_abs_deviation: Number


class ExactGroup(_Section):
    draft_ids: list[str]
    question: str


class NearPair(_Section):
    a: str
    b: str
    similarity: Number
    question_a: str
    question_b: str


class Duplicates(_Section):
    exact_group_count: int
    exact_extra_copies: int
    exact_groups: list[ExactGroup]
    near_pair_count: int
    near_pairs: list[NearPair]


class ContradictionPair(_Section):
    a: str
    b: str
    question_similarity: Number
    answer_similarity: Number
    question_a: str
    question_b: str
    answer_a: str
    answer_b: str


class Contradictions(_Section):
    count: int
    pairs: list[ContradictionPair]


class Phantom(_Section):
    name: str
    count: int  # signed-off examples naming it (a name repeated in one answer counts once)
    draft_ids: list[str]
    example: str


class PhantomReferences(_Section):
    references_checked: int
    distinct_names_checked: int
    count: int  # distinct phantom names
    affected_examples: int  # examples naming at least one
    phantoms: list[Phantom]


class Kappa(_Section):
    kappa: Number | None
    observed: Number | None
    expected: Number | None
    matrix: dict[str, dict[str, int]]


class Agreement(_Section):
    pairs: int
    unpaired_double_reviews: int
    reviewer_pairs: dict[str, int]
    two_way: Kappa
    three_way: Kappa


class Quality(_Section):
    parameters: QualityParameters
    totals: QualityTotals
    edit_rate: EditRates
    reject_reasons: dict[str, int]
    fast_decisions: FastDecisions
    coverage: Coverage
    balance: Balance
    duplicates: Duplicates
    contradictions: Contradictions
    phantom_references: PhantomReferences
    agreement: Agreement


class DroppedCandidateRow(_Section):
    kind: str
    name: str
    reason: str
    at: str  # doc:line of the text that decided the drop; "" when no text did
    text: str
    drafter: str


class DroppedCandidates(_Section):
    """Candidates the current generation calls dropped, with why and where in the docs."""

    count: int = 0
    by_kind_and_reason: dict[str, dict[str, int]] = Field(default_factory=dict)
    candidates: list[DroppedCandidateRow] = Field(default_factory=list)


class AiAddressedSentence(_Section):
    at: str  # doc:line
    sentence: str


class AiAddressedText(_Section):
    """Doc sentences addressed to an AI assistant, flagged at ingest."""

    count: int = 0
    sentences: list[AiAddressedSentence] = Field(default_factory=list)


class LossPointRow(_Section):
    step: int
    train_loss: Number | None
    eval_loss: Number | None


class TrainingRunRow(_Section):
    """One recorded training run of an export: its curve, final losses and the checks of its
    links (its own hash, and the export's manifest hash it recorded)."""

    run_id: str
    file_name: str
    file_hash: str
    source_format: str
    recorded_at: str
    points: list[LossPointRow]
    final_train_loss: Number | None
    final_eval_loss: Number | None
    # Last eval loss minus the last train loss logged at or before its step.
    final_gap: Number | None
    best_eval_loss: Number | None
    best_eval_step: int | None
    hash_ok: bool
    manifest_matches: bool


class ExportRuns(_Section):
    export_id: str
    format: str | None  # None when the export's row is missing (a break)
    created_at: str | None
    runs: list[TrainingRunRow]


class TrainingRuns(_Section):
    """The training runs recorded beside the exports, by export (oldest first)."""

    count: int = 0
    exports: list[ExportRuns] = Field(default_factory=list)


class Audit(_Section):
    """Integrity, provenance and quality of one ledger and its exports."""

    draftgate_audit: int = AUDIT_VERSION
    generated_at: str
    ledger: str
    head: AuditHead
    integrity: IntegritySummary
    # One row per exported record (100k and more): the integrity check's own rows, kept as
    # they are rather than copied into a model each, which would double the audit's memory.
    provenance: SkipValidation[list[ProvenanceRow]]
    quality: Quality
    dropped_candidates: DroppedCandidates = Field(default_factory=DroppedCandidates)
    ai_addressed_text: AiAddressedText = Field(default_factory=AiAddressedText)
    training_runs: TrainingRuns = Field(default_factory=TrainingRuns)
    # origin (generate, probe, import) -> status -> drafts. Set only when some draft has an
    # origin other than generate: a ledger of drafted examples alone reports as it always did.
    drafts_by_origin: dict[str, dict[str, int]] = Field(default_factory=dict)

    def as_json_dict(self) -> dict[str, Any]:
        """The JSON report's value: every field, but ``template_names`` only where computed."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> str:
        return json.dumps(self.as_json_dict(), indent=1, ensure_ascii=False) + "\n"
