"""Draftgate's UI-free core: domain types, the SQLite ledger, hashing, decisions, verify.

This package never imports textual, openai or instructor (a test enforces it).
"""

from ledger.docs_flags import AiAddressedText
from ledger.dropped import DroppedCandidate
from ledger.errors import (
    DamagedLedgerError,
    DecidedElsewhereError,
    DecisionRejected,
    ForeignLedgerError,
    LedgerBusyError,
    LedgerError,
    LedgerLockedError,
    LedgerUnavailableError,
    NewerLedgerError,
)
from ledger.models import (
    IMPORT_DRAFTER,
    PROBE_DRAFTER,
    AdversarialSubtype,
    Chunk,
    ChunkIn,
    ChunkSection,
    Decision,
    DecisionIn,
    Document,
    Draft,
    DraftIn,
    DraftKind,
    DraftOrigin,
    DraftStatus,
    GenerationCall,
    RejectReason,
    Verdict,
    draft_origin,
)
from ledger.store import (
    ChainHead,
    ChunkHit,
    IngestOutcome,
    IngestRoot,
    Ledger,
    RecordOutcome,
    utc_now,
)
from ledger.verify import Break, verify

__all__ = [
    "AdversarialSubtype",
    "AiAddressedText",
    "Break",
    "ChainHead",
    "Chunk",
    "ChunkHit",
    "ChunkIn",
    "ChunkSection",
    "DamagedLedgerError",
    "DecidedElsewhereError",
    "Decision",
    "DecisionIn",
    "DecisionRejected",
    "Document",
    "Draft",
    "DraftIn",
    "DraftKind",
    "DraftOrigin",
    "DraftStatus",
    "DroppedCandidate",
    "ForeignLedgerError",
    "GenerationCall",
    "IMPORT_DRAFTER",
    "IngestOutcome",
    "IngestRoot",
    "Ledger",
    "LedgerError",
    "LedgerBusyError",
    "LedgerLockedError",
    "LedgerUnavailableError",
    "NewerLedgerError",
    "PROBE_DRAFTER",
    "RecordOutcome",
    "RejectReason",
    "Verdict",
    "draft_origin",
    "utc_now",
    "verify",
]
