"""The SQLite store: opening (with migrations), transactions, and the public write/read API.

Every write runs in its own ``BEGIN IMMEDIATE`` transaction: taking the write lock up front is
what keeps two processes from both reading and then failing to write ("database is locked"),
and committing before returning is what lets a caller tell a user "saved".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, NamedTuple

from ledger.chain import GENESIS_HASH, call_hash, decision_entry_hash, drafts_hash
from ledger.docs_flags import (
    CHUNK_AI_ADDRESSED_SQL,
    CURRENT_AI_ADDRESSED_SQL,
    AiAddressedText,
    record_ai_addressed,
    row_to_flag,
)
from ledger.dropped import DroppedCandidate, current_dropped_candidates
from ledger.errors import (
    DamagedLedgerError,
    DecidedElsewhereError,
    DecisionRejected,
    ForeignLedgerError,
    LedgerBusyError,
    LedgerLockedError,
    LedgerUnavailableError,
    NewerLedgerError,
)
from ledger.ids import content_hash, new_event_id, text_hash
from ledger.job_claims import ClaimOutcome, claim, holders, release, renew
from ledger.migrations import (
    APPLICATION_ID,
    DECISION_SESSIONS_SCHEMA,
    MIGRATIONS,
    SCHEMA_VERSION,
)
from ledger.models import (
    IMPORT_DOCUMENT_PREFIX,
    Chunk,
    ChunkIn,
    Decision,
    DecisionIn,
    Document,
    Draft,
    DraftIn,
    DraftKind,
    DraftStatus,
    GenerationCall,
    Verdict,
    draft_origin,
    is_import_document,
)
from ledger.reviewers import is_named, reviewer_name

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# A documents.path condition true of the docs and false of imported files (see
# IMPORT_DOCUMENT_PREFIX): what drafting, search, coverage and removal look at.
DOCS_ONLY_SQL = f"NOT LIKE '{IMPORT_DOCUMENT_PREFIX}%'"
# The dropped reason for drafts a drafter was asked for but did not return (a short reply).
SHORTFALL = "fewer_than_requested"


def utc_now() -> str:
    """Timestamps are UTC ISO-8601 with milliseconds, so they sort as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def dwell_of(shown_at: str | None, decided_at: str) -> int | None:
    """Milliseconds from showing a draft to deciding it. None when it was not shown, and when
    the clock went backwards in between (decided before shown): that is a clock anomaly, not
    a decision made in no time, so it must not count as a fast (rubber-stamp) one."""
    if shown_at is None:
        return None
    delta = parse_time(decided_at) - parse_time(shown_at)
    if delta < timedelta(0):
        return None
    # Whole milliseconds by integer division: total_seconds() * 1000 is a float, and 4.012 s
    # becomes 4011.999..., stored as 4011.
    return delta // timedelta(milliseconds=1)


def is_clock_anomaly(shown_at: str | None, decided_at: str, dwell_ms: int | None) -> bool:
    """A stored decision whose clock went backwards between shown_at and decided_at. Both
    timestamps are stored as given (and chained); such a decision has no dwell. A dwell of 0
    is checked against the timestamps too, so a ledger that stored a backwards clock as a
    dwell of 0 reads the same."""
    if not shown_at or (dwell_ms is not None and dwell_ms > 0):
        return False
    try:
        return parse_time(decided_at) < parse_time(shown_at)
    except ValueError:
        return dwell_ms is None


def document_id(path: str, content_hash_: str | None, removed: bool, ingested_at: str) -> str:
    """A document version's id. The time is part of it: a file can return to earlier text."""
    return content_hash(
        {
            "path": path,
            "content_hash": content_hash_,
            "removed": removed,
            "ingested_at": ingested_at,
        }
    )


def chunk_id(document_id_: str, ordinal: int, chunk: ChunkIn, text_hash_: str) -> str:
    fields: dict[str, Any] = {
        "document_id": document_id_,
        "ordinal": ordinal,
        "heading_path": chunk.heading_path,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "text_hash": text_hash_,
    }
    # Only chunks that hold several sections carry them, so ids of chunks stored before
    # sections existed are computed exactly as they were.
    if chunk.sections:
        fields["sections"] = [s.model_dump() for s in chunk.sections]
    return content_hash(fields)


def sections_json(chunk: ChunkIn) -> str | None:
    if not chunk.sections:
        return None
    return json.dumps([s.model_dump() for s in chunk.sections], ensure_ascii=False)


def ingest_root_id(root: str, key_prefix: str, recorded_at: str) -> str:
    return content_hash({"root": root, "key_prefix": key_prefix, "recorded_at": recorded_at})


def draft_id(chunk_id_: str, draft: DraftIn) -> str:
    return draft_fields_id(
        chunk_id_,
        draft.kind.value,
        draft.subtype,
        draft.question,
        draft.answer,
        draft.evidence,
        draft.meta,
    )


def draft_fields_id(
    chunk_id_: str,
    kind: str,
    subtype: str | None,
    question: str,
    answer: str,
    evidence: list[str],
    meta: dict[str, Any],
) -> str:
    """``draft_id`` from a draft's fields as stored (verify reads them without a model)."""
    return content_hash(
        {
            "chunk_id": chunk_id_,
            "kind": kind,
            "subtype": subtype,
            "question": question,
            "answer": answer,
            "evidence": evidence,
            "meta": meta,
        }
    )


def edit_distance(before: str, after: str) -> float:
    """Normalised Levenshtein distance: 0.0 unchanged, 1.0 entirely rewritten."""
    # Imported on first use: only an edit needs it, and `status` should start fast.
    from rapidfuzz.distance import Levenshtein

    return round(Levenshtein.normalized_distance(before, after), 4)


@dataclass(frozen=True)
class IngestOutcome:
    path: str
    state: str  # "new" | "changed" | "unchanged"
    document_id: str
    chunk_count: int


@dataclass(frozen=True)
class IngestRoot:
    id: str
    root: str  # absolute path of the docs folder as ingested
    key_prefix: str  # "" unless the ledger predates relative keys ("<folder>/")
    recorded_at: str


@dataclass(frozen=True)
class RecordOutcome:
    call: GenerationCall
    stored_draft_ids: list[str]
    duplicate_count: int


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


class SignedOffKey(NamedTuple):
    """What the export's selection passes read of a signed-off draft."""

    draft_id: str
    kind: str
    document: str


class SignedOffRecord(NamedTuple):
    """A signed-off draft with its deciding decision, source and call, as the export writes it."""

    draft_id: str
    kind: str
    subtype: str | None
    question: str
    answer: str
    decision_id: str
    verdict: str
    reviewer: str
    final_question: str | None
    final_answer: str | None
    document: str
    chunk_id: str
    call_hash: str | None


class DecidedRecord(NamedTuple):
    """A draft with its deciding decision (a sign-off or a rejection by a named reviewer), its
    meta and its source: what a preference export pairs."""

    draft_id: str
    kind: str
    subtype: str | None
    question: str
    answer: str
    meta: dict[str, Any]
    decision_id: str
    verdict: str
    reviewer: str
    final_question: str | None
    final_answer: str | None
    document: str
    chunk_id: str
    call_hash: str | None


class ExportRecordRow(NamedTuple):
    """One record of an export as the ledger records it."""

    draft_id: str
    record_hash: str
    decision_id: str
    split: str


# Signed off: the latest live decision is an approve or an edit by a named reviewer.
_SIGNED_OFF_FROM = """
    FROM draft_status s
    JOIN drafts dr ON dr.id = s.draft_id
    JOIN decisions de ON de.id = s.decision_id
    JOIN chunks c ON c.id = dr.chunk_id
    JOIN documents doc ON doc.id = c.document_id
    WHERE s.verdict IN ('approve', 'edit')
"""
_SIGNED_OFF_RECORD_COLUMNS = (
    "dr.id, dr.kind, dr.subtype, dr.question, dr.answer, s.decision_id, s.verdict,"
    " s.reviewer, de.final_question, de.final_answer, doc.path, dr.chunk_id,"
    " (SELECT gc.call_hash FROM generation_calls gc WHERE gc.id = dr.call_id)"
)
# A draft decided by its latest live decision (the verdicts are chosen by the caller).
_DECIDED_FROM = """
    FROM draft_status s
    JOIN drafts dr ON dr.id = s.draft_id
    JOIN decisions de ON de.id = s.decision_id
    JOIN chunks c ON c.id = dr.chunk_id
    JOIN documents doc ON doc.id = c.document_id
    WHERE s.verdict IN ({verdicts})
"""
_DECIDED_RECORD_COLUMNS = (
    "dr.id, dr.kind, dr.subtype, dr.question, dr.answer, dr.meta, s.decision_id, s.verdict,"
    " s.reviewer, de.final_question, de.final_answer, doc.path, dr.chunk_id,"
    " (SELECT gc.call_hash FROM generation_calls gc WHERE gc.id = dr.call_id)"
)
SIGNED_OFF_READ_BATCH = 2_000
EXPORT_RECORDS_INSERT_BATCH = 2_000


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: str
    document_path: str
    heading_path: list[str]
    snippet: str


@dataclass
class StatusReport:
    documents: int = 0
    documents_removed: int = 0
    chunks: int = 0
    drafts: int = 0
    drafts_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    # origin (generate, probe, import) -> status -> drafts
    drafts_by_origin: dict[str, dict[str, int]] = field(default_factory=dict)
    stale: int = 0
    stale_pending: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    @property
    def pending(self) -> int:
        """Drafts with no decision in force, stale or not."""
        return sum(
            counts.get(DraftStatus.PENDING.value, 0) for counts in self.drafts_by_kind.values()
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "documents_removed": self.documents_removed,
            "chunks": self.chunks,
            "drafts": self.drafts,
            "pending": self.pending,
            "drafts_by_kind": self.drafts_by_kind,
            "drafts_by_origin": self.drafts_by_origin,
            "stale": self.stale,
            "stale_pending": self.stale_pending,
            "decisions": self.decisions,
            "generation_calls": self.calls,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
        }


def row_to_chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(
        id=row["id"],
        document_id=row["document_id"],
        ordinal=row["ordinal"],
        heading_path=json.loads(row["heading_path"]),
        start_line=row["start_line"],
        end_line=row["end_line"],
        text=row["text"],
        text_hash=row["text_hash"],
        sections=json.loads(row["sections"]) if row["sections"] else [],
    )


def _row_to_document(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"],
        path=row["path"],
        content_hash=row["content_hash"],
        title=row["title"],
        size_bytes=row["size_bytes"],
        ingested_at=row["ingested_at"],
        removed=bool(row["removed"]),
    )


def row_to_draft(row: sqlite3.Row) -> Draft:
    return Draft(
        id=row["id"],
        call_id=row["call_id"],
        chunk_id=row["chunk_id"],
        kind=DraftKind(row["kind"]),
        subtype=row["subtype"],
        question=row["question"],
        answer=row["answer"],
        evidence=json.loads(row["evidence"]),
        meta=json.loads(row["meta"]),
        created_at=row["created_at"],
    )


def row_to_decision(row: sqlite3.Row) -> Decision:
    return Decision(
        seq=row["seq"],
        id=row["id"],
        draft_id=row["draft_id"],
        reviewer=row["reviewer"],
        verdict=Verdict(row["verdict"]),
        final_question=row["final_question"],
        final_answer=row["final_answer"],
        reason=row["reason"],
        note=row["note"],
        reverts_decision_id=row["reverts_decision_id"],
        shown_at=row["shown_at"],
        decided_at=row["decided_at"],
        dwell_ms=row["dwell_ms"],
        edit_distance=row["edit_distance"],
        double_review=bool(row["double_review"]),
        prev_hash=row["prev_hash"],
        entry_hash=row["entry_hash"],
        clock_anomaly=is_clock_anomaly(row["shown_at"], row["decided_at"], row["dwell_ms"]),
        session_id=row["session_id"] if "session_id" in row.keys() else None,  # noqa: SIM118
    )


def _row_to_call(row: sqlite3.Row) -> GenerationCall:
    return GenerationCall(
        id=row["id"],
        job_key=row["job_key"],
        kind=DraftKind(row["kind"]),
        chunk_id=row["chunk_id"],
        drafter=row["drafter"],
        template_name=row["template_name"],
        template_hash=row["template_hash"],
        model=row["model"],
        endpoint_host=row["endpoint_host"],
        params=json.loads(row["params"]),
        attempts=row["attempts"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        latency_ms=row["latency_ms"],
        status=row["status"],
        error=row["error"],
        requested=row["requested"],
        produced=row["produced"],
        dropped=json.loads(row["dropped"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_HEADER_BYTES = 100


# Ledger files this process has a connection to (realpath -> count). Closing any descriptor
# of a file drops every POSIX lock this process holds on it, so the header is never read
# with Python's open() while one of our own SQLite connections holds locks on the file.
_OPEN_HERE: dict[str, int] = {}
_OPEN_HERE_LOCK = threading.Lock()
# One lock per ledger file, held from that check until the new connection is counted: two
# threads opening the same file at once (the review app's writer and reader threads) must not
# have one read the header, and so drop locks, while the other's connection is being made.
_OPENING: dict[str, threading.Lock] = {}


def _opening(path_text: str) -> threading.Lock:
    with _OPEN_HERE_LOCK:
        return _OPENING.setdefault(os.path.realpath(path_text), threading.Lock())


TRUNCATION_LOOKS = 5
TRUNCATION_PAUSE_S = 0.05


def _truncation(path_text: str) -> str | None:
    """Why the file looks cut short, or None."""
    try:
        if os.path.exists(path_text + "-wal"):
            return None
        size = os.stat(path_text).st_size
        with open(path_text, "rb") as handle:
            header = handle.read(SQLITE_HEADER_BYTES)
    except OSError:
        return None  # gone or unreadable meanwhile: SQLite will say so
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid when the change counter matches "version valid for".
    counted = header[24:28] == header[92:96] and pages > 0
    if page_size < 512 or not (size % page_size or (counted and size < pages * page_size)):
        return None
    return f"truncated: {size}" + (f" of {pages * page_size}" if counted else "") + " bytes"


def _confirm_damage(path_text: str, detail: str) -> None:
    """Raise DamagedLedgerError if SQLite's own page check fails on a file that looks cut
    short; a file that passes it is whole, whatever its header said."""
    # Immutable: it is only asked with no -wal beside the file, and a plain read-only
    # connection to a WAL-mode file would leave -wal/-shm behind.
    uri = f"{Path(path_text).resolve().as_uri()}?mode=ro&immutable=1"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise DamagedLedgerError.at(path_text, f"{detail}; {exc}") from exc
    if problems != ["ok"]:
        raise DamagedLedgerError.at(path_text, f"{detail}; {problems[0]}")
    logger.debug("%s looked %s, but SQLite's quick_check passes", path_text, detail)


# A creation takes milliseconds; a temporary file this old is from one that was killed.
STALE_CREATION_S = 600


def _remove_stale_creations(folder: Path, name: str) -> None:
    """Remove what a killed creation of ``name`` left (its temp file and -wal/-shm)."""
    cutoff = time.time() - STALE_CREATION_S
    for leftover in folder.glob(f".{glob_escape(name)}.*.creating*"):
        with contextlib.suppress(OSError):
            if leftover.is_file() and leftover.lstat().st_mtime < cutoff:
                leftover.unlink()


def _inspect_existing(path_text: str, *, writable: bool) -> bool:
    """False if nothing is at ``path_text``; True for a file that looks like a whole SQLite
    database; otherwise the LedgerError that says why it cannot be one."""
    try:
        info = os.stat(path_text)
    except FileNotFoundError:
        if os.path.islink(path_text):
            raise LedgerUnavailableError(
                f"cannot open the ledger {path_text}: it is a symlink to nothing"
            ) from None
        return False
    except NotADirectoryError as exc:
        parents = Path(path_text).parents
        blocker = next((p for p in parents if p.exists() and not p.is_dir()), parents[0])
        raise LedgerUnavailableError(
            f"cannot open the ledger {path_text}: {blocker} is a file, not a folder"
        ) from exc
    except OSError as exc:  # a symlink loop, no permission
        raise LedgerUnavailableError(f"cannot open the ledger {path_text}: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise LedgerUnavailableError(f"the ledger path {path_text} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise LedgerUnavailableError(
            f"the ledger path {path_text} is not a regular file (a FIFO, socket or device)"
        )
    if info.st_size == 0:
        raise ForeignLedgerError(
            f"{path_text} is an empty file (0 bytes), not a Draftgate ledger; if it was one, "
            "restore it from a backup, else remove it or pass another --ledger"
        )
    if _OPEN_HERE.get(os.path.realpath(path_text)):
        return True  # checked when first opened; reading it now would drop our own locks
    try:
        with open(path_text, "rb") as handle:
            header = handle.read(SQLITE_HEADER_BYTES)
    except OSError as exc:
        raise LedgerUnavailableError(f"cannot read the ledger {path_text}: {exc.strerror}") from exc
    if not header.startswith(SQLITE_MAGIC[: len(header)]) or (
        len(header) >= len(SQLITE_MAGIC) and not header.startswith(SQLITE_MAGIC)
    ):
        raise ForeignLedgerError(f"{path_text} is not a Draftgate ledger (not an SQLite database)")
    if len(header) < SQLITE_HEADER_BYTES:
        raise DamagedLedgerError.at(path_text, f"cut short at {len(header)} bytes")
    # A file cut short: the size is not whole pages, or below the header's page count. Seen
    # while another process checkpoints (the header is written before the file grows), so it
    # only counts with no -wal beside the file and when it lasts over a few looks; and even
    # then SQLite has the last word (the reliability bench once saw a healthy ledger, shared
    # by five processes, look cut short this way).
    for _ in range(TRUNCATION_LOOKS):
        detail = _truncation(path_text)
        if detail is None:
            break
        time.sleep(TRUNCATION_PAUSE_S)
    else:
        _confirm_damage(path_text, detail or "truncated")
    if writable and not os.access(path_text, os.W_OK):
        raise LedgerUnavailableError(
            f"cannot write the ledger {path_text}: the file is read-only for this user"
        )
    return True


IN_MEMORY = ":memory:"


def _not_a_file_path(path_text: str) -> str | None:
    """Why SQLite would open ``path_text`` as something other than a file on disk, or None.

    ``:memory:`` and ``""`` are databases that vanish when closed (a ledger there would be
    reported intact and hold nothing); ``file:`` names an SQLite URI (``?mode=memory``,
    ``vfs=``...), which could point anywhere. A file whose name starts with ``file:`` is
    still reachable as ``./file:...``."""
    if not path_text.strip():
        return "an empty path"
    if path_text == IN_MEMORY:
        return "an in-memory SQLite database"
    if path_text[:5].lower() == "file:":
        return "an SQLite URI (for a file named so, write ./file:...)"
    return None


def fts_phrase(text: str) -> str:
    """Quote text as one FTS5 phrase (tokens in order), so no user text is read as syntax."""
    return '"' + text.replace('"', '""') + '"'


class Ledger:
    """One open ledger file. Not shared between threads: open one per thread that writes."""

    def __init__(self, db: sqlite3.Connection, path: str) -> None:
        self._db = db
        self.path = path
        self._key = "" if path == IN_MEMORY else os.path.realpath(path)
        if self._key:
            with _OPEN_HERE_LOCK:
                _OPEN_HERE[self._key] = _OPEN_HERE.get(self._key, 0) + 1
        self._lock = threading.Lock()
        # Asked, with the attempt number, each time BEGIN IMMEDIATE has waited the whole busy
        # timeout for another process's write lock: True waits again. Unset, the lock raises
        # LedgerLockedError, which suits a command; a review session waits instead (and says
        # so on screen) so a reviewer's decision is neither refused nor lost.
        self.wait_when_locked: Callable[[int], bool] | None = None

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        upgrade_to: int | None = None,
        must_exist: bool = False,
        read_only: bool = False,
    ) -> Ledger:
        """Open (creating if absent) and migrate to ``upgrade_to`` (default: the latest).

        ``must_exist``: a missing file is an error, not a new ledger (every command but
        ``ingest``: a mistyped path must not become a fresh, empty ledger). ``read_only``:
        must exist too, and nothing is written: no migration, no journal-mode change, and
        no -wal/-shm left behind (``generate --dry-run``, and reading a read-only file).
        An existing file is checked before SQLite opens it: a folder, FIFO, symlink loop,
        empty or truncated file, or one this user cannot write (for a write), is one line.
        A new ledger is built in a temporary file beside it and linked into place whole, so
        an interrupted creation never leaves a half-made ledger at ``path``."""
        target = SCHEMA_VERSION if upgrade_to is None else upgrade_to
        path_text = str(path)
        not_a_file = _not_a_file_path(path_text)
        if not_a_file is not None:
            raise LedgerUnavailableError(
                f"no ledger at {path_text!r}: {not_a_file} is not a ledger file; pass --ledger "
                "with a file's path ('draftgate ingest' creates one)"
            )
        with _opening(path_text):
            return cls._open_file(path_text, target, must_exist=must_exist, read_only=read_only)

    @classmethod
    def in_memory(cls, *, upgrade_to: int | None = None) -> Ledger:
        """A throwaway ledger that lives in memory and is gone when closed (a reference schema,
        tests). Never what a user's path opens: ``open`` refuses ``:memory:``."""
        target = SCHEMA_VERSION if upgrade_to is None else upgrade_to
        return cls._connect(IN_MEMORY, IN_MEMORY, target, read_only=False)

    @classmethod
    def _open_file(
        cls, path_text: str, target: int, *, must_exist: bool, read_only: bool
    ) -> Ledger:
        if _inspect_existing(path_text, writable=not read_only):
            uri = path_text
            folder = os.path.dirname(os.path.abspath(path_text))
            if read_only and not (os.access(path_text, os.W_OK) and os.access(folder, os.W_OK)):
                # A read-write connection to a file it cannot write falls back to read-only
                # and then leaves -wal/-shm behind; immutable reads the file as it is (with
                # no WAL beside it nobody has uncommitted pages in one).
                wal = os.path.exists(path_text + "-wal")
                uri = f"{Path(path_text).resolve().as_uri()}?mode=ro" + (
                    "" if wal else "&immutable=1"
                )
            return cls._connect(uri, path_text, target, read_only=read_only)
        if must_exist or read_only:
            raise LedgerUnavailableError(
                f"no ledger at {path_text}; run 'draftgate ingest' first or pass --ledger"
            )
        cls._create(path_text, target)
        return cls._connect(path_text, path_text, target, read_only=False)

    @classmethod
    def _create(cls, path_text: str, target: int) -> None:
        """Build the schema in a temporary file in the same folder, then link it into place
        (never replacing a ledger another process created meanwhile)."""
        folder = Path(path_text).parent
        if folder.exists() and not folder.is_dir():
            raise LedgerUnavailableError(
                f"cannot create the ledger {path_text}: {folder} is a file, not a folder"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _remove_stale_creations(folder, Path(path_text).name)
            fd, temp = tempfile.mkstemp(
                prefix=f".{Path(path_text).name}.", suffix=".creating", dir=folder
            )
            os.close(fd)
        except OSError as exc:
            raise LedgerUnavailableError(
                f"cannot create the ledger {path_text} in {folder}: {exc.strerror}"
            ) from exc
        try:
            built = cls._connect(temp, temp, target, read_only=False, fresh=True)
            built.close()
            try:
                os.link(temp, path_text)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError as exc:
                raise LedgerUnavailableError(
                    f"cannot create the ledger {path_text}: {exc.strerror}"
                ) from exc
        finally:
            for leftover in (temp, temp + "-wal", temp + "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)

    @classmethod
    def _connect(
        cls, uri: str, path_text: str, target: int, *, read_only: bool, fresh: bool = False
    ) -> Ledger:
        try:
            db = sqlite3.connect(
                uri,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                # Only a URI this module built is read as one: open() refuses user paths
                # that SQLite would read as a URI or as an in-memory database.
                uri=uri != path_text,
            )
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailableError(f"cannot open the ledger {path_text}: {exc}") from exc
        db.row_factory = sqlite3.Row
        ledger = cls(db, path_text)
        try:
            if read_only:
                ledger._configure_read_only(target)
            else:
                ledger._configure()
                ledger._migrate(target)
                if fresh:
                    # Everything into the main file before it is linked into place.
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.DatabaseError as exc:
            ledger.close()
            message = str(exc)
            if "not a database" in message or "file is encrypted" in message:
                raise ForeignLedgerError(
                    f"{path_text} is not a Draftgate ledger (not an SQLite database)"
                ) from exc
            if "malformed" in message or "disk I/O" in message or "disk image" in message:
                raise DamagedLedgerError.at(path_text, message) from exc
            if "locked" in message or "busy" in message:
                raise LedgerLockedError(
                    f"{path_text} is locked by another process; try again when it finishes"
                ) from exc
            if "duplicate column" in message or "already exists" in message:
                # A migration met what it was about to create: the recorded version is wrong.
                raise DamagedLedgerError(
                    f"{path_text} does not have the schema its version says ({message}); "
                    "restore it from a backup"
                ) from exc
            if "readonly" in message or "unable to open" in message:
                raise LedgerUnavailableError(
                    f"cannot write the ledger {path_text}: {message}"
                ) from exc
            raise
        except BaseException:
            ledger.close()
            raise
        return ledger

    def _configure_read_only(self, target: int) -> None:
        self._configure_checks()
        if self.schema_version() < target:
            raise LedgerUnavailableError(
                f"{self.path} uses an older schema ({self.schema_version()}); run a command "
                "that writes to it (e.g. 'draftgate ingest') once to upgrade it"
            )
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA query_only = ON")

    def _configure_checks(self) -> None:
        # Reading the header first gives a clean "not a database" error before any write.
        app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        table_count = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id != 0 or table_count > 0):
            raise ForeignLedgerError(
                f"{self.path} is an SQLite database but not a Draftgate ledger; "
                "point --ledger at a new or existing ledger file"
            )
        # Before any PRAGMA that writes (journal_mode rewrites the header): a newer ledger is
        # refused byte-for-byte untouched.
        self._refuse_newer()

    def _configure(self) -> None:
        self._configure_checks()
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != IN_MEMORY:
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise LedgerUnavailableError(f"cannot put {self.path} in WAL mode (got {mode})")
        # NORMAL in WAL mode loses no committed write on a process crash (kill -9); only an OS
        # crash or power loss can drop the last commits, and FULL's fsync per commit costs
        # tail latency the review screen would feel.
        self._db.execute("PRAGMA synchronous = NORMAL")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _refuse_newer(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise NewerLedgerError(
                f"{self.path} was written by a newer Draftgate (schema {current}, this version "
                f"knows up to {SCHEMA_VERSION}); upgrade Draftgate to open it"
            )

    def _migrate(self, target: int) -> None:
        self._refuse_newer()
        current = self.schema_version()
        if current >= target:
            return
        if current == 0:
            with self.transaction() as db:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
        for version in range(current + 1, target + 1):
            name, migration = MIGRATIONS[version - 1]
            with self.transaction() as db:
                # Re-check inside the lock: another process may have migrated meanwhile.
                if self.schema_version() >= version:
                    continue
                migration(db)
                db.execute(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, utc_now()),
                )
                db.execute(f"PRAGMA user_version = {version}")

    def close(self) -> None:
        self._db.close()
        with _OPEN_HERE_LOCK:
            if self._key and _OPEN_HERE.get(self._key):
                _OPEN_HERE[self._key] -= 1
                if not _OPEN_HERE[self._key]:
                    del _OPEN_HERE[self._key]
            self._key = ""

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions --------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first statement.

        ``wait=False`` is for a caller on an event loop, which must not sleep in SQLite's busy
        handler while another process writes: the lock is tried once and LedgerBusyError
        says to try again later.
        """
        with self._lock:
            attempt = 0
            while True:
                try:
                    if wait:
                        self._db.execute("BEGIN IMMEDIATE")
                    else:
                        self._begin_without_waiting()
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    if not wait:
                        raise LedgerBusyError(
                            f"{self.path} is being written by another process"
                        ) from exc
                    attempt += 1
                    # Nothing of this transaction has run yet, so waiting again is safe.
                    if self.wait_when_locked is not None and self.wait_when_locked(attempt):
                        continue
                    raise self.stayed_locked() from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def busy_timeout_s(self) -> float:
        """How long a write waits for another process's lock before giving up."""
        return BUSY_TIMEOUT_MS / 1000

    def stayed_locked(self) -> LedgerLockedError:
        """The error for a write lock another process held past the busy timeout."""
        return LedgerLockedError(
            f"{self.path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again"
        )

    def _begin_without_waiting(self) -> None:
        self._db.execute("PRAGMA busy_timeout = 0")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read inside sees the ledger as it was at the start.

        WAL mode lets writers go on meanwhile. An export reads several passes and the chain head
        inside one snapshot, so the head it records matches exactly the decisions it saw. No
        write may happen inside (use ``transaction()`` after the snapshot ends).
        """
        with self._lock:
            self._db.execute("BEGIN DEFERRED")
            # The snapshot is taken at the first read, not at BEGIN.
            self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        try:
            yield
        finally:
            with self._lock:
                self._db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A read for modules inside ``ledger/`` (no SQL leaves this package)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def iter_query(
        self, sql: str, params: Sequence[Any] = (), size: int = 1000
    ) -> Iterator[sqlite3.Row]:
        """Stream a large read in batches so memory does not grow with the ledger.

        Uses its own cursor: a streamed read must not hold the shared lock between batches.
        """
        cursor = self._db.execute(sql, params)
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                return
            yield from rows

    # ---- documents and chunks ------------------------------------------------------------

    def ingest_document(
        self, path: str, content_hash_: str, title: str, size_bytes: int, chunks: list[ChunkIn]
    ) -> IngestOutcome:
        """Record a document version and its chunks atomically; a no-op if unchanged."""
        with self.transaction() as db:
            current = db.execute(
                "SELECT * FROM current_documents WHERE path = ?", (path,)
            ).fetchone()
            unchanged = (
                current is not None
                and current["content_hash"] == content_hash_
                and not current["removed"]
            )
            if current is not None and unchanged:
                count = db.execute(
                    "SELECT count(*) FROM chunks WHERE document_id = ?", (current["id"],)
                ).fetchone()[0]
                return IngestOutcome(path, "unchanged", current["id"], count)
            ingested_at = utc_now()
            doc_id = document_id(path, content_hash_, False, ingested_at)
            db.execute(
                "INSERT INTO documents(id, path, content_hash, title, size_bytes, ingested_at,"
                " removed) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (doc_id, path, content_hash_, title, size_bytes, ingested_at),
            )
            db.executemany(
                "INSERT INTO chunks(id, document_id, ordinal, heading_path, start_line, end_line,"
                " text, text_hash, sections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        chunk_id(doc_id, ordinal, chunk, text_hash(chunk.text)),
                        doc_id,
                        ordinal,
                        json.dumps(chunk.heading_path, ensure_ascii=False),
                        chunk.start_line,
                        chunk.end_line,
                        chunk.text,
                        text_hash(chunk.text),
                        sections_json(chunk),
                    )
                    for ordinal, chunk in enumerate(chunks)
                ],
            )
            if is_import_document(path):
                # An imported file's rows are not doc text: out of the docs' full-text index
                # (which ranks and answers every doc search), in the same transaction.
                db.execute(
                    "INSERT INTO chunks_fts(chunks_fts, rowid, text)"
                    " SELECT 'delete', rowid, text FROM chunks WHERE document_id = ?",
                    (doc_id,),
                )
                # The deletes are kept as markers beside the entries they cancel until the
                # index is merged; unmerged, every search reads both (5 ms a search instead of
                # 2 ms after 1,000 imported rows). The docs' index is small: merge it now.
                db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')")
            state = "new" if current is None else "changed"
            return IngestOutcome(path, state, doc_id, len(chunks))

    def mark_removed(self, path_prefix: str, present_paths: set[str]) -> list[str]:
        """Record removal of documents under ``path_prefix`` that are no longer present."""
        removed: list[str] = []
        with self.transaction() as db:
            rows = db.execute(
                "SELECT path FROM current_documents WHERE removed = 0 AND path LIKE ? ESCAPE '\\'"
                f" AND path {DOCS_ONLY_SQL}",
                (path_prefix.replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
            for row in rows:
                if row["path"] in present_paths:
                    continue
                removed_at = utc_now()
                doc_id = document_id(row["path"], None, True, removed_at)
                db.execute(
                    "INSERT INTO documents(id, path, content_hash, title, size_bytes,"
                    " ingested_at, removed) VALUES (?, ?, NULL, '', 0, ?, 1)",
                    (doc_id, row["path"], removed_at),
                )
                removed.append(row["path"])
        return removed

    def record_ingest_root(self, root: str, key_prefix: str) -> IngestRoot:
        """Record the docs folder an ingest read (``root``, absolute) and the prefix its
        document paths were keyed with; the newest record is the ledger's docs root."""
        with self.transaction() as db:
            recorded_at = utc_now()
            id_ = ingest_root_id(root, key_prefix, recorded_at)
            db.execute(
                "INSERT INTO ingest_roots(id, root, key_prefix, recorded_at) VALUES (?, ?, ?, ?)",
                (id_, root, key_prefix, recorded_at),
            )
        return IngestRoot(id_, root, key_prefix, recorded_at)

    def ingest_root(self) -> IngestRoot | None:
        """The docs folder most recently ingested into this ledger, if one was recorded."""
        rows = self.query("SELECT * FROM ingest_roots ORDER BY rowid DESC LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        return IngestRoot(row["id"], row["root"], row["key_prefix"], row["recorded_at"])

    def current_documents(self) -> list[Document]:
        """The current docs (imported files are not docs: see ``import_documents``)."""
        rows = self.query(
            "SELECT * FROM current_documents WHERE removed = 0"
            f" AND path {DOCS_ONLY_SQL} ORDER BY path"
        )
        return [_row_to_document(r) for r in rows]

    def current_chunks(self) -> list[Chunk]:
        """The chunks of the current docs."""
        rows = self.query(
            "SELECT c.* FROM current_chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE d.path {DOCS_ONLY_SQL} ORDER BY d.path, c.ordinal"
        )
        return [row_to_chunk(r) for r in rows]

    def chunks_of_document(self, document_id_: str) -> list[Chunk]:
        """One document version's chunks, in order."""
        rows = self.query(
            "SELECT * FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id_,)
        )
        return [row_to_chunk(r) for r in rows]

    def get_chunk(self, chunk_id_: str) -> Chunk | None:
        rows = self.query("SELECT * FROM chunks WHERE id = ?", (chunk_id_,))
        return row_to_chunk(rows[0]) if rows else None

    def get_document(self, document_id_: str) -> Document | None:
        rows = self.query("SELECT * FROM documents WHERE id = ?", (document_id_,))
        return _row_to_document(rows[0]) if rows else None

    def search_chunks(self, phrase: str, limit: int = 5) -> list[ChunkHit]:
        """Current chunks containing ``phrase`` as a token sequence (case-insensitive)."""
        if not phrase.strip():
            return []
        rows = self.query(
            "SELECT c.id, d.path, c.heading_path,"
            " snippet(chunks_fts, 0, '[', ']', '…', 12) AS snip"
            " FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            " JOIN current_documents d ON d.id = c.document_id"
            f" WHERE chunks_fts MATCH ? AND d.removed = 0 AND d.path {DOCS_ONLY_SQL} LIMIT ?",
            (fts_phrase(phrase), limit),
        )
        return [
            ChunkHit(r["id"], r["path"], json.loads(r["heading_path"]), r["snip"]) for r in rows
        ]

    def search_chunks_any(self, words: Sequence[str], limit: int = 5) -> list[ChunkHit]:
        """Current doc chunks holding any of ``words``, best first (FTS5's bm25 rank: chunks
        holding more of the rarer words come first)."""
        terms = [fts_phrase(w) for w in dict.fromkeys(words) if w.strip()]
        if not terms:
            return []
        # Ranked in the FTS table alone first (a snippet or a join per matching row, before
        # the sort, cost milliseconds per search); then the best few are joined.
        rows = self.query(
            "WITH ranked AS (SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?"
            " ORDER BY rank LIMIT ?)"
            " SELECT c.id, d.path, c.heading_path, substr(c.text, 1, 80) AS snip"
            " FROM ranked JOIN chunks c ON c.rowid = ranked.rowid"
            " JOIN current_documents d ON d.id = c.document_id"
            f" WHERE d.removed = 0 AND d.path {DOCS_ONLY_SQL} ORDER BY ranked.rank",
            (" OR ".join(terms), limit * 4),
        )
        return [
            ChunkHit(r["id"], r["path"], json.loads(r["heading_path"]), r["snip"])
            for r in rows[:limit]
        ]

    # ---- doc text addressed to an AI -------------------------------------------------------

    def record_ai_addressed(self, flags: Sequence[AiAddressedText]) -> list[AiAddressedText]:
        """Store the flags ingest found that are not stored yet; returns the new ones."""
        if not flags:
            return []
        with self.transaction() as db:
            return record_ai_addressed(db, flags, utc_now())

    def ai_addressed_text(self) -> list[AiAddressedText]:
        """Every flagged sentence of the current documents, by document and line."""
        rows = self.query(CURRENT_AI_ADDRESSED_SQL + " ORDER BY d.path, a.line, a.sentence")
        return [row_to_flag(r) for r in rows]

    def ai_addressed_in_chunk(self, chunk_id_: str) -> list[AiAddressedText]:
        """The flagged sentences of one chunk (current or not), by line."""
        return [row_to_flag(r) for r in self.query(CHUNK_AI_ADDRESSED_SQL, (chunk_id_,))]

    # ---- generation ----------------------------------------------------------------------

    def finished_job_keys(self) -> set[str]:
        """Jobs with a successful call: a rerun skips them (failed ones are tried again)."""
        return {r[0] for r in self.query("SELECT job_key FROM generation_calls WHERE status='ok'")}

    def record_call(self, call: GenerationCall, drafts: Sequence[DraftIn]) -> RecordOutcome:
        """Store a call and its drafts in one transaction; exact duplicates are dropped.

        ``call.produced`` and ``call.dropped`` are completed here with what was actually stored,
        so requested = produced + dropped holds for an ok call (a failed call produced nothing:
        all it requested failed). A drafter that returned fewer drafts than requested has the
        difference recorded as dropped ``fewer_than_requested``.
        """
        return self.record_calls([(call, drafts)])[0]

    def record_calls(
        self, calls: Sequence[tuple[GenerationCall, Sequence[DraftIn]]], *, wait: bool = True
    ) -> list[RecordOutcome]:
        """Store several calls, each as ``record_call`` would, in ONE transaction.

        A commit costs more CPU than the rows it writes, so the generate path's writer stores
        what has queued up since its last commit together. Each call is still all-or-nothing
        with its drafts (the transaction holds them all), so a kill loses whole calls only.
        ``wait`` is passed to ``transaction``.
        """
        with self.transaction(wait=wait) as db:
            return [self._insert_call(db, call, drafts) for call, drafts in calls]

    def _insert_call(
        self, db: sqlite3.Connection, call: GenerationCall, drafts: Sequence[DraftIn]
    ) -> RecordOutcome:
        stored: list[tuple[str, DraftIn]] = []
        seen: set[str] = set()
        duplicates = 0
        for draft in drafts:
            did = draft_id(call.chunk_id, draft)
            exists = db.execute("SELECT 1 FROM drafts WHERE id = ?", (did,)).fetchone()
            if did in seen or exists:
                duplicates += 1
                continue
            seen.add(did)
            stored.append((did, draft))
        dropped = dict(call.dropped)
        if duplicates:
            dropped["duplicate_exact"] = dropped.get("duplicate_exact", 0) + duplicates
        shortfall = call.requested - len(stored) - sum(dropped.values())
        if call.status == "ok" and shortfall > 0:
            dropped[SHORTFALL] = dropped.get(SHORTFALL, 0) + shortfall
        final = call.model_copy(update={"produced": len(stored), "dropped": dropped})
        row: dict[str, Any] = {
            "id": final.id,
            "job_key": final.job_key,
            "kind": final.kind.value,
            "chunk_id": final.chunk_id,
            "drafter": final.drafter,
            "template_name": final.template_name,
            "template_hash": final.template_hash,
            "model": final.model,
            "endpoint_host": final.endpoint_host,
            "params": json.dumps(final.params, sort_keys=True),
            "attempts": final.attempts,
            "prompt_tokens": final.prompt_tokens,
            "completion_tokens": final.completion_tokens,
            "latency_ms": final.latency_ms,
            "status": final.status,
            "error": final.error,
            "requested": final.requested,
            "produced": final.produced,
            "dropped": json.dumps(final.dropped, sort_keys=True),
            "started_at": final.started_at,
            "finished_at": final.finished_at,
            # The call's row and the drafts it made are hashed together (verify checks).
            "drafts_hash": drafts_hash(did for did, _ in stored),
        }
        row["call_hash"] = call_hash(row)
        db.execute(
            f"INSERT INTO generation_calls({', '.join(row)})"
            f" VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        now = utc_now()
        db.executemany(
            "INSERT INTO drafts(id, call_id, chunk_id, kind, subtype, question, answer,"
            " evidence, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    did,
                    final.id,
                    final.chunk_id,
                    d.kind.value,
                    d.subtype,
                    d.question,
                    d.answer,
                    json.dumps(d.evidence, ensure_ascii=False),
                    json.dumps(d.meta, ensure_ascii=False, sort_keys=True),
                    now,
                )
                for did, d in stored
            ],
        )
        return RecordOutcome(final, [did for did, _ in stored], duplicates)

    # ---- job claims (see ledger.job_claims) -------------------------------------------------

    def claim_jobs(
        self, run_id: str, keys: Sequence[str], *, want: int, ttl_s: float, wait: bool = True
    ) -> ClaimOutcome:
        """Claim up to ``want`` of ``keys`` (in order) for the run ``run_id`` for ``ttl_s``
        seconds, in one transaction: finished jobs and jobs another run holds are passed over.
        ``wait`` is passed to ``transaction``."""
        with self.transaction(wait=wait) as db:
            return claim(db, run_id, keys, want, ttl_s)

    def renew_job_claims(
        self, run_id: str, keys: Sequence[str], ttl_s: float, *, wait: bool = True
    ) -> list[str]:
        """Extend the run's claims on ``keys`` by ``ttl_s`` from now; returns the keys another
        run claimed after this run's claim ran out (those are left to it)."""
        if not keys:
            return []
        with self.transaction(wait=wait) as db:
            return renew(db, run_id, keys, ttl_s)

    def release_job_claims(self, run_id: str, keys: Sequence[str], *, wait: bool = True) -> int:
        """Give back the run's claims in force on ``keys``; returns how many it held."""
        if not keys:
            return 0
        with self.transaction(wait=wait) as db:
            return release(db, run_id, keys)

    def job_claim_holders(self, keys: Sequence[str]) -> dict[str, str]:
        """job key -> the run holding a claim in force on it, for the keys that have one."""
        with self._lock:
            return {key: h.run_id for key, h in holders(self._db, keys, utc_now()).items()}

    def generation_calls(self) -> list[GenerationCall]:
        return [_row_to_call(r) for r in self.query("SELECT * FROM generation_calls ORDER BY id")]

    def dropped_candidates(self) -> list[DroppedCandidate]:
        """The candidates the current generation calls dropped, each with its reason and the
        ``doc:line`` of the text that decided it (see ``ledger.dropped``)."""
        with self._lock:
            return current_dropped_candidates(self._db)

    def iter_draft_texts(self) -> Iterator[tuple[str, str, str, str, str]]:
        """(draft id, chunk id, kind, question, answer) for every draft: the dedup index's input."""
        for row in self.iter_query("SELECT id, chunk_id, kind, question, answer FROM drafts"):
            yield row[0], row[1], row[2], row[3], row[4]

    # ---- drafts and decisions ------------------------------------------------------------

    def get_draft(self, draft_id_: str) -> Draft | None:
        rows = self.query("SELECT * FROM drafts WHERE id = ?", (draft_id_,))
        return row_to_draft(rows[0]) if rows else None

    def pending_drafts(
        self,
        *,
        after_rowid: int = 0,
        limit: int = 100,
        kind: str | None = None,
        doc: str | None = None,
        stale: bool | None = None,
    ) -> list[tuple[int, Draft]]:
        """A page of undecided drafts in creation order, after ``after_rowid``.

        Returns (rowid, draft) pairs; pass the last rowid back to get the next page.
        """
        where = [
            "dr.rowid > ?",
            # live_decisions flattens into index probes; draft_status's window function
            # would be computed over every decision for every page.
            "NOT EXISTS (SELECT 1 FROM live_decisions s WHERE s.draft_id = dr.id)",
        ]
        params: list[Any] = [after_rowid]
        if kind:
            where.append("dr.kind = ?")
            params.append(kind)
        if doc:
            where.append(
                "dr.chunk_id IN (SELECT c.id FROM chunks c JOIN documents d"
                " ON d.id = c.document_id WHERE d.path LIKE ?)"
            )
            params.append(f"%{doc}%")
        if stale is not None:
            op = "IN" if stale else "NOT IN"
            where.append(f"dr.id {op} (SELECT draft_id FROM stale_drafts)")
        params.append(limit)
        rows = self.query(
            "SELECT dr.rowid AS rowid_, dr.* FROM drafts dr WHERE "
            + " AND ".join(where)
            + " ORDER BY dr.rowid LIMIT ?",
            params,
        )
        return [(r["rowid_"], row_to_draft(r)) for r in rows]

    def head(self) -> ChainHead:
        rows = self.query("SELECT seq, entry_hash FROM decisions ORDER BY seq DESC LIMIT 1")
        return ChainHead(rows[0][0], rows[0][1]) if rows else ChainHead(0, GENESIS_HASH)

    def record_decision(self, decision: DecisionIn) -> Decision:
        """Append a decision to the chain and commit it before returning."""
        reviewer = reviewer_name(decision.reviewer)
        decision = decision.model_copy(update={"reviewer": reviewer})
        with self.transaction() as db:
            draft_row = db.execute(
                "SELECT * FROM drafts WHERE id = ?", (decision.draft_id,)
            ).fetchone()
            if draft_row is None:
                raise DecisionRejected(f"no draft {decision.draft_id}")
            draft = row_to_draft(draft_row)
            final_q, final_a, distance = self._check_decision(db, draft, decision)
            if decision.verdict is not Verdict.REVERT:
                self._check_not_decided_elsewhere(
                    db, decision, by_session=self.schema_version() >= DECISION_SESSIONS_SCHEMA
                )
            head = db.execute(
                "SELECT seq, entry_hash FROM decisions ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
            decided_at = decision.decided_at or utc_now()
            try:
                dwell_ms = dwell_of(decision.shown_at or None, decided_at)
            except ValueError as exc:
                # The timestamps are hashed into the chain as given, so they must parse.
                raise DecisionRejected(
                    "shown_at/decided_at must be UTC timestamps like 2026-01-31T12:00:00.000Z"
                ) from exc
            fields: dict[str, Any] = {
                "seq": seq,
                "id": new_event_id(),
                "draft_id": draft.id,
                "reviewer": reviewer,
                "verdict": decision.verdict.value,
                "final_question": final_q,
                "final_answer": final_a,
                "reason": decision.reason.value if decision.reason else None,
                "note": decision.note,
                "reverts_decision_id": decision.reverts_decision_id,
                "shown_at": decision.shown_at,
                "decided_at": decided_at,
                "dwell_ms": dwell_ms,
                "edit_distance": distance,
                "double_review": decision.double_review,
                "prev_hash": prev_hash,
            }
            if self.schema_version() >= DECISION_SESSIONS_SCHEMA:
                fields["session_id"] = decision.session_id
            fields["entry_hash"] = decision_entry_hash(fields)
            columns = list(fields)
            db.execute(
                f"INSERT INTO decisions({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                [fields[c] for c in columns],
            )
        anomaly = is_clock_anomaly(decision.shown_at, decided_at, dwell_ms)
        return Decision(**fields, clock_anomaly=anomaly)

    @staticmethod
    def _check_not_decided_elsewhere(
        db: sqlite3.Connection, decision: DecisionIn, *, by_session: bool
    ) -> None:
        """One decision in force per draft, or two by different reviewers when the second is a
        blind double review. Leases keep review sessions apart; this is the rule itself,
        checked inside the write lock, so no client (or lease bookkeeping slip) can break it.

        A decision is another's unless it has the same reviewer name *and* the same review
        session: two sessions under one name (two terminals, one ``$USER``) must not both
        decide a draft. ``by_session`` is False on a ledger opened at a schema older than the
        session column: there the reviewer name alone tells decisions apart."""
        reviewer = decision.reviewer
        # live_decisions spelled out: the rule holds on a ledger opened at an older schema too.
        mine = "d.reviewer = ? AND d.session_id IS ?" if by_session else "d.reviewer = ?"
        mine_params = [reviewer, decision.session_id] if by_session else [reviewer]
        others = db.execute(
            "SELECT d.reviewer, d.double_review FROM decisions d WHERE d.draft_id = ?"
            f" AND NOT ({mine}) AND d.verdict != 'revert'"
            " AND NOT EXISTS (SELECT 1 FROM decisions r WHERE r.verdict = 'revert'"
            " AND r.reverts_decision_id = d.id)",
            [decision.draft_id, *mine_params],
        ).fetchall()
        if not others:
            return
        second_review = (
            decision.double_review
            and len(others) == 1
            and not others[0][1]
            and others[0][0] != reviewer
        )
        if not second_review:
            who = others[0][0]
            where = " in another review session" if who == reviewer else ""
            raise DecidedElsewhereError(
                f"draft {decision.draft_id} was decided by {who}{where} meanwhile; "
                "this decision was not saved"
            )

    def _check_decision(
        self, db: sqlite3.Connection, draft: Draft, decision: DecisionIn
    ) -> tuple[str | None, str | None, float | None]:
        verdict = decision.verdict
        # A field that does not belong to the verdict would sit in the chain forever and
        # mislead an audit (an approve that seems to undo something, an approve with a reason).
        if decision.reverts_decision_id is not None and verdict is not Verdict.REVERT:
            raise DecisionRejected("only a revert can name a decision to revert")
        if decision.reason is not None and verdict is not Verdict.REJECT:
            raise DecisionRejected("only a reject has a reject reason")
        if verdict is Verdict.EDIT:
            final_q = (decision.final_question or "").strip()
            final_a = (decision.final_answer or "").strip()
            if not final_q or not final_a:
                raise DecisionRejected("an edit needs a non-empty question and answer")
            before = draft.question + "\n" + draft.answer
            return final_q, final_a, edit_distance(before, final_q + "\n" + final_a)
        if verdict is Verdict.REJECT and decision.reason is None:
            raise DecisionRejected("a reject needs a reason")
        if verdict is Verdict.REVERT:
            target = db.execute(
                "SELECT draft_id FROM live_decisions WHERE id = ?",
                (decision.reverts_decision_id,),
            ).fetchone()
            if target is None or target[0] != draft.id:
                raise DecisionRejected("a revert must name a decision in force on the same draft")
            return None, None, None
        if verdict is Verdict.APPROVE:
            return None, None, 0.0
        return None, None, None

    def decisions_for_draft(self, draft_id_: str) -> list[Decision]:
        rows = self.query("SELECT * FROM decisions WHERE draft_id = ? ORDER BY seq", (draft_id_,))
        return [row_to_decision(r) for r in rows]

    def iter_decisions(self) -> Iterator[Decision]:
        for row in self.iter_query("SELECT * FROM decisions ORDER BY seq"):
            yield row_to_decision(row)

    # ---- exports -------------------------------------------------------------------------

    def _signed_off_where(
        self, kinds: Sequence[str] | None, include_stale: bool
    ) -> tuple[str, list[Any]]:
        # Names written before names were normalised can be invisible-only; such a decision
        # signs nothing off. There are few distinct names, so they are judged here rather
        # than by a Python function inside the query, where Ctrl-C would surface as an
        # SQLite error instead of an interrupt.
        nameless = [
            row[0]
            for row in self.query("SELECT DISTINCT reviewer FROM decisions")
            if row[0] is not None and not is_named(row[0])
        ]
        sql = ""
        params: list[Any] = []
        if nameless:
            sql += f" AND s.reviewer NOT IN ({', '.join('?' for _ in nameless)})"
            params += nameless
        if kinds:
            sql += f" AND dr.kind IN ({', '.join('?' for _ in kinds)})"
            params += list(kinds)
        if not include_stale:
            sql += " AND dr.id NOT IN (SELECT draft_id FROM stale_drafts)"
        return sql, params

    def _signed_off(
        self, columns: str, kinds: Sequence[str] | None, include_stale: bool
    ) -> Iterator[sqlite3.Row]:
        where, params = self._signed_off_where(kinds, include_stale)
        # Creation order: a stable, meaningful order for the lines of a file.
        sql = f"SELECT {columns} {_SIGNED_OFF_FROM}{where} ORDER BY dr.rowid"
        return self.iter_query(sql, params, size=SIGNED_OFF_READ_BATCH)

    def iter_signed_off_keys(
        self, kinds: Sequence[str] | None = None, *, include_stale: bool = True
    ) -> Iterator[SignedOffKey]:
        """Id, kind and document of every signed-off draft (of ``kinds``; without stale ones
        unless ``include_stale``), in creation order."""
        for row in self._signed_off("dr.id, dr.kind, doc.path", kinds, include_stale):
            yield SignedOffKey(row[0], row[1], row[2])

    def iter_signed_off_records(
        self, kinds: Sequence[str] | None = None, *, include_stale: bool = True
    ) -> Iterator[SignedOffRecord]:
        """Every signed-off draft (of ``kinds``; without stale ones unless ``include_stale``)
        with what an export writes, in creation order."""
        for row in self._signed_off(_SIGNED_OFF_RECORD_COLUMNS, kinds, include_stale):
            yield SignedOffRecord._make(row)

    def iter_decided_records(
        self,
        verdicts: Sequence[str],
        kinds: Sequence[str] | None = None,
        *,
        include_stale: bool = True,
    ) -> Iterator[DecidedRecord]:
        """Every draft whose latest live decision is one of ``verdicts`` (approve, edit,
        reject) by a named reviewer, with its meta, in creation order."""
        allowed = [v for v in verdicts if v in ("approve", "edit", "reject")]
        if not allowed:
            return
        where, params = self._signed_off_where(kinds, include_stale)
        sql = (
            f"SELECT {_DECIDED_RECORD_COLUMNS} "
            + _DECIDED_FROM.format(verdicts=", ".join("?" for _ in allowed))
            + f"{where} ORDER BY dr.rowid"
        )
        for row in self.iter_query(sql, [*allowed, *params], size=SIGNED_OFF_READ_BATCH):
            values = list(row)
            values[5] = json.loads(values[5])
            yield DecidedRecord._make(values)

    def count_stale_signed_off(self, kinds: Sequence[str] | None = None) -> int:
        """Signed-off drafts (of ``kinds``) whose source changed since they were drafted."""
        where, params = self._signed_off_where(kinds, include_stale=True)
        sql = (
            f"SELECT count(*) {_SIGNED_OFF_FROM}{where}"
            " AND dr.id IN (SELECT draft_id FROM stale_drafts)"
        )
        return int(self.query(sql, params)[0][0])

    def record_export(self, export_row: dict[str, Any], records: Iterable[ExportRecordRow]) -> None:
        """Insert an export and its records in one transaction."""
        with self.transaction() as db:
            columns = ", ".join(export_row)
            db.execute(
                f"INSERT INTO exports({columns}) VALUES ({', '.join('?' for _ in export_row)})",
                list(export_row.values()),
            )
            export_id = export_row["id"]
            batch: list[tuple[str, ...]] = []
            for record in records:
                batch.append((export_id, *record))
                if len(batch) >= EXPORT_RECORDS_INSERT_BATCH:
                    _insert_export_records(db, batch)
            _insert_export_records(db, batch)

    def recorded_exports(self) -> list[dict[str, Any]]:
        """Every export the ledger knows of (its ``exports`` row), oldest first."""
        return [dict(r) for r in self.query("SELECT * FROM exports ORDER BY created_at, id")]

    def drafts_by_origin(self) -> dict[str, dict[str, int]]:
        """Drafts per origin (read off their call's drafter) and status."""
        by_origin: dict[str, dict[str, int]] = {}
        for row in self.query(
            "SELECT gc.drafter, s.verdict, count(*) FROM drafts dr"
            " JOIN generation_calls gc ON gc.id = dr.call_id"
            " LEFT JOIN draft_status s ON s.draft_id = dr.id GROUP BY gc.drafter, s.verdict"
        ):
            counts = by_origin.setdefault(draft_origin(row[0]).value, {})
            status = status_of_verdict(row[1]).value
            counts[status] = counts.get(status, 0) + row[2]
        return by_origin

    def draft_status(self, draft_id_: str) -> DraftStatus:
        rows = self.query("SELECT verdict FROM draft_status WHERE draft_id = ?", (draft_id_,))
        return status_of_verdict(rows[0][0] if rows else None)

    def is_stale(self, draft_id_: str) -> bool:
        return bool(self.query("SELECT 1 FROM stale_drafts WHERE draft_id = ?", (draft_id_,)))

    # ---- status --------------------------------------------------------------------------

    def status(self) -> StatusReport:
        report = StatusReport()
        report.documents = self.query(
            f"SELECT count(*) FROM current_documents WHERE removed = 0 AND path {DOCS_ONLY_SQL}"
        )[0][0]
        report.documents_removed = self.query(
            f"SELECT count(*) FROM current_documents WHERE removed = 1 AND path {DOCS_ONLY_SQL}"
        )[0][0]
        report.chunks = self.query(
            "SELECT count(*) FROM current_chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE d.path {DOCS_ONLY_SQL}"
        )[0][0]
        by_kind: dict[str, dict[str, int]] = {}
        for row in self.query(
            "SELECT dr.kind, s.verdict, count(*) FROM drafts dr"
            " LEFT JOIN draft_status s ON s.draft_id = dr.id GROUP BY dr.kind, s.verdict"
        ):
            status = status_of_verdict(row[1]).value
            kind_counts = by_kind.setdefault(row[0], {})
            kind_counts[status] = kind_counts.get(status, 0) + row[2]
            report.drafts += row[2]
        report.drafts_by_kind = by_kind
        report.drafts_by_origin = self.drafts_by_origin()
        report.stale = self.query("SELECT count(*) FROM stale_drafts")[0][0]
        report.stale_pending = self.query(
            "SELECT count(*) FROM stale_drafts st WHERE NOT EXISTS"
            " (SELECT 1 FROM live_decisions s WHERE s.draft_id = st.draft_id)"
        )[0][0]
        report.decisions = {
            r[0]: r[1]
            for r in self.query("SELECT verdict, count(*) FROM decisions GROUP BY verdict")
        }
        report.calls = {
            r[0]: r[1]
            for r in self.query("SELECT status, count(*) FROM generation_calls GROUP BY status")
        }
        head = self.head()
        report.head_seq, report.head_hash = head.seq, head.hash
        return report


def status_of_verdict(verdict: str | None) -> DraftStatus:
    return {
        None: DraftStatus.PENDING,
        "approve": DraftStatus.APPROVED,
        "edit": DraftStatus.EDITED,
        "reject": DraftStatus.REJECTED,
    }[verdict]


def _insert_export_records(db: sqlite3.Connection, batch: list[tuple[str, ...]]) -> None:
    db.executemany(
        "INSERT INTO export_records(export_id, draft_id, record_hash, decision_id, split)"
        " VALUES (?, ?, ?, ?, ?)",
        batch,
    )
    batch.clear()
