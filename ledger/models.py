"""The ledger's domain types. Plain pydantic models: what is stored, and what the API returns."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DraftKind(StrEnum):
    QA = "qa"
    NEGATIVE = "negative"
    ADVERSARIAL = "adversarial"
    CLARIFY = "clarify"


class AdversarialSubtype(StrEnum):
    FALSE_PREMISE = "false_premise"
    WRONG_UI_NAME = "wrong_ui_name"
    PROMPT_INJECTION = "prompt_injection"
    OUT_OF_SCOPE = "out_of_scope"


class Verdict(StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    REVERT = "revert"


class RejectReason(StrEnum):
    WRONG_FACTS = "wrong_facts"
    NOT_GROUNDED = "not_grounded"
    INVENTED_FEATURE_OR_UI = "invented_feature_or_ui"
    DUPLICATE = "duplicate"
    UNSAFE = "unsafe"
    OFF_STYLE = "off_style"
    OTHER = "other"


class DraftOrigin(StrEnum):
    """Where a draft came from, read off its call's ``drafter``: never stored twice."""

    GENERATE = "generate"  # the LLM or the rules drafter, from the docs
    PROBE = "probe"  # a tuned model's failed answer, brought back for review
    IMPORT = "import"  # a team's own Q&As or production logs


PROBE_DRAFTER = "probe"
IMPORT_DRAFTER = "import"
# Every imported file is kept as a document of its own whose chunks are its rows (so a row no
# doc passage supports still has a chunk to point at). Its path starts with this, which no
# ingested doc path can (ingest keys are relative paths, never with an empty component), and
# such documents are no part of the docs: not drafted from, searched, covered or removed.
IMPORT_DOCUMENT_PREFIX = "import://"


def is_import_document(path: str) -> bool:
    """Whether a document path names an imported file rather than a doc."""
    return path.startswith(IMPORT_DOCUMENT_PREFIX)


def draft_origin(drafter: str) -> DraftOrigin:
    """The origin of drafts made by a call with this ``drafter`` ("llm", "rules/1", ...)."""
    if drafter == PROBE_DRAFTER:
        return DraftOrigin.PROBE
    if drafter == IMPORT_DRAFTER:
        return DraftOrigin.IMPORT
    return DraftOrigin.GENERATE


class DraftStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Document(Frozen):
    """One ingested version of a file. ``removed`` marks a file gone from the docs folder."""

    id: str
    path: str
    content_hash: str | None
    title: str
    size_bytes: int
    ingested_at: str
    removed: bool = False


class ChunkSection(Frozen):
    """One heading's section within a chunk: file lines ``start_line``..``end_line``."""

    start_line: int
    end_line: int
    heading_path: list[str]


class ChunkIn(Frozen):
    """A chunk as ingestion produces it, before it has an id."""

    heading_path: list[str]
    start_line: int
    end_line: int
    text: str
    # The sections of a chunk that holds more than one heading's section, in order; empty
    # when the whole chunk is one section (``heading_path``).
    sections: list[ChunkSection] = Field(default_factory=list)


class Chunk(Frozen):
    id: str
    document_id: str
    ordinal: int
    heading_path: list[str]
    start_line: int
    end_line: int
    text: str
    text_hash: str
    sections: list[ChunkSection] = Field(default_factory=list)


class GenerationCall(Frozen):
    """One drafting job's call (or the rules drafter's run over one chunk), with provenance."""

    id: str
    job_key: str
    kind: DraftKind
    chunk_id: str
    drafter: str  # "llm" or "rules/<version>"
    template_name: str
    template_hash: str
    model: str
    endpoint_host: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    status: str = "ok"  # "ok" | "failed"
    error: str | None = None
    requested: int = 0
    produced: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)
    started_at: str
    finished_at: str


class DraftIn(Frozen):
    """A draft as the generator hands it over, before it has an id."""

    kind: DraftKind
    subtype: str | None = None
    question: str
    answer: str
    evidence: list[str] = Field(default_factory=list)
    # Kind-specific facts the reviewer should see, e.g. a negative's absence check
    # ({"feature", "terms", "hits"}) or a wrong-UI-name draft's wrong name and real path.
    meta: dict[str, Any] = Field(default_factory=dict)


class Draft(Frozen):
    id: str
    call_id: str
    chunk_id: str
    kind: DraftKind
    subtype: str | None
    question: str
    answer: str
    evidence: list[str]
    meta: dict[str, Any]
    created_at: str


class DecisionIn(Frozen):
    """What a reviewer decided about one draft."""

    draft_id: str
    reviewer: str
    verdict: Verdict
    final_question: str | None = None
    final_answer: str | None = None
    reason: RejectReason | None = None
    note: str | None = None
    reverts_decision_id: str | None = None
    shown_at: str | None = None
    decided_at: str | None = None
    double_review: bool = False
    # The review session deciding: the one-decision rule tells two sessions under one
    # reviewer name apart by it. None for a decision made outside a review session.
    session_id: str | None = None


class Decision(Frozen):
    seq: int
    id: str
    draft_id: str
    reviewer: str
    verdict: Verdict
    final_question: str | None
    final_answer: str | None
    reason: RejectReason | None
    note: str | None
    reverts_decision_id: str | None
    shown_at: str | None
    decided_at: str
    dwell_ms: int | None
    edit_distance: float | None
    double_review: bool
    prev_hash: str
    entry_hash: str
    # Decided before it was shown by the clock (it went backwards): dwell_ms is None, and the
    # audit counts it apart from fast decisions. Read from the stored timestamps, not a column.
    clock_anomaly: bool = False
    session_id: str | None = None

    def undo_by(self, reviewer: str, decided_at: str) -> DecisionIn:
        """The decision that undoes this one: a revert naming it (nothing is deleted)."""
        return DecisionIn(
            draft_id=self.draft_id,
            reviewer=reviewer,
            verdict=Verdict.REVERT,
            reverts_decision_id=self.id,
            decided_at=decided_at,
        )
