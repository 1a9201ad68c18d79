"""``draftgate import``: a team's own Q&As or production logs, brought into the review queue.

A file is JSONL (one object per line, or an OpenAI chat line with ``messages``) or CSV (a
header row). Each row becomes one draft of origin ``import`` (drafter ``IMPORT_DRAFTER``) with
its provenance in ``meta["import"]``: the file's name and hash, the row's line, whether a doc
passage supports it, and the production model's answer and user feedback when the row has
them. Nothing is decided here: every imported draft waits for a reviewer like any other.

Grounding rule (``find_support``): the row's content words (question and starting answer,
casefolded, stopwords and words under three letters left out) are searched in the current docs
(FTS5, any word, best bm25 rank first); a chunk supports the row when it holds at least
``MIN_SHARED_WORDS`` of those words and at least ``MIN_SHARED_SHARE`` of them. The best such
chunk by share is the draft's chunk. A row no chunk supports is attached to its own chunk in the
imported file's document (path ``import://<file>@<hash>``) and marked ``grounded: false``; the
review card and the audit say "ungrounded".

A rerun of the same file imports nothing twice: each row's generation call has the job key
``import:<file hash>:<line>:<row hash>``, and rows whose key is already recorded are skipped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.userfiles import NotRegularFileError, TooLargeError, read_regular_file
from ledger import (
    IMPORT_DOCUMENT_PREFIX,
    IMPORT_DRAFTER,
    ChunkIn,
    DraftIn,
    DraftKind,
    GenerationCall,
    Ledger,
    utc_now,
)
from ledger.ids import content_hash, hash_bytes, new_event_id
from ledger.text import STOPWORDS, normalise

MAX_IMPORT_BYTES = 512 << 20
# A chunk supports a row when it holds at least this many of the row's content words, and at
# least this share of them.
MIN_SHARED_WORDS = 3
MIN_SHARED_SHARE = 0.5
# Candidate chunks read per row (the FTS search ranks them).
SUPPORT_CANDIDATES = 8
MIN_WORD_LETTERS = 3
# Column names each role is read from when --map does not name one (first found wins; names
# are matched casefolded).
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "question": ("question", "prompt", "input", "query", "user"),
    "answer": ("answer", "reference", "expected", "ideal"),
    "model_answer": ("model_answer", "response", "output", "completion", "assistant"),
    "feedback": ("feedback", "rating", "thumbs", "score", "label"),
    "kind": ("kind", "type"),
}
ROLES = tuple(DEFAULT_COLUMNS)
SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
CALLS_PER_COMMIT = 500


class ImportFileError(Exception):
    """The file as a whole cannot be imported (one line for the user)."""


@dataclass(frozen=True)
class ImportRow:
    """One importable row: where it is in the file and what its columns said."""

    line: int
    end_line: int
    question: str
    answer: str  # a reference answer the team wrote ("" when the row has none)
    model_answer: str  # what the production model said ("" when the row has none)
    feedback: str | None
    kind: DraftKind

    @property
    def starting_answer(self) -> str:
        """The draft's answer: the team's reference when the row has one, else the model's."""
        return self.answer or self.model_answer

    def identity(self) -> str:
        return content_hash(
            {
                "question": self.question,
                "answer": self.answer,
                "model_answer": self.model_answer,
                "feedback": self.feedback,
                "kind": self.kind.value,
            }
        )


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    file: str
    file_hash: str
    format: str
    rows: int = 0
    imported: int = 0
    grounded: int = 0
    ungrounded: int = 0
    already_imported: int = 0
    bad: list[BadRow] = field(default_factory=list)
    document_path: str = ""


def parse_mapping(specs: list[str]) -> dict[str, str]:
    """``--map question=col,answer=col`` (repeatable) as role -> column name."""
    mapping: dict[str, str] = {}
    for spec in specs:
        for part in spec.split(","):
            if not part.strip():
                continue
            role, sep, column = part.partition("=")
            role, column = role.strip(), column.strip()
            if not sep or not column:
                raise ImportFileError(f"--map: {part.strip()!r} is not role=column")
            if role not in ROLES:
                raise ImportFileError(f"--map: unknown role {role!r}; roles: {', '.join(ROLES)}")
            mapping[role] = column
    return mapping


def read_import_file(path: Path) -> tuple[bytes, str]:
    """The file's bytes and its format (from the suffix)."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImportFileError(
            f"{path}: unknown file type {path.suffix or '(none)'}; "
            "import reads .jsonl, .ndjson, .json (one object per line) or .csv"
        )
    try:
        data = read_regular_file(path, MAX_IMPORT_BYTES)
    except NotRegularFileError as exc:
        raise ImportFileError(f"{path} is {exc}") from exc
    except TooLargeError as exc:
        raise ImportFileError(
            f"{path} is {exc.size} bytes, more than the {MAX_IMPORT_BYTES} allowed"
        ) from exc
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data, fmt


def parse_rows(
    data: bytes, fmt: str, mapping: Mapping[str, str]
) -> tuple[list[ImportRow], list[BadRow]]:
    """Every row of the file: the importable ones and the bad ones, with their lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    rows: list[ImportRow] = []
    bad: list[BadRow] = []
    records = _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)
    for line, end_line, record in records:
        if isinstance(record, str):
            bad.append(BadRow(line, record))
            continue
        row = _row_of(line, end_line, record, mapping)
        if isinstance(row, str):
            bad.append(BadRow(line, row))
        else:
            rows.append(row)
    return rows, bad


def _jsonl_records(text: str) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    if text.lstrip().startswith("["):
        yield from _array_records(text)
        return
    # Split on newlines only: a JSON string may hold U+2028 and other characters that
    # str.splitlines() would also break a line at, misnumbering every line after it.
    for index, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield index, index, f"not JSON ({exc.msg} at column {exc.colno})"
            continue
        except ValueError as exc:  # e.g. a number too long to convert
            yield index, index, f"not JSON ({exc})"
            continue
        if not isinstance(value, dict):
            yield index, index, "not a JSON object"
            continue
        if "messages" in value:
            yield index, index, _chat_record(value)
        else:
            yield index, index, value


_DECODER = json.JSONDecoder()


def _array_records(text: str) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    """A file holding one JSON array of objects: each item with the line it starts on. A
    syntax error ends the file there (nothing after it can be told apart)."""
    position = text.index("[") + 1
    while True:
        position = _skip_space(text, position)
        if position >= len(text) or text[position] == "]":
            return
        line = text.count("\n", 0, position) + 1
        try:
            value, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield line, line, f"not JSON ({exc.msg}); the rest of the array is not read"
            return
        end_line = text.count("\n", 0, end) + 1
        if not isinstance(value, dict):
            yield line, end_line, "not a JSON object"
        else:
            yield line, end_line, _chat_record(value) if "messages" in value else value
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position += 1


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _chat_record(value: dict[str, Any]) -> dict[str, Any] | str:
    """An OpenAI chat line: its last user message is the question, the assistant message
    after it the model's answer; other keys (feedback, kind) are kept as columns."""
    messages = value["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return "'messages' is not a list of message objects"
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        return "'messages' holds no user message"
    last_user = users[-1]
    replies = [m for m in messages[last_user + 1 :] if m.get("role") == "assistant"]
    record = {k: v for k, v in value.items() if k != "messages"}
    record["question"] = messages[last_user].get("content")
    if replies:
        record["model_answer"] = replies[0].get("content")
    return record


def _csv_records(text: str) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportFileError(f"line 1: the CSV header cannot be read ({exc})") from exc
    names = [h.strip() for h in header]
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, start, f"not a CSV row ({exc})"
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            yield start, reader.line_num, f"{len(cells)} cells, the header has {len(names)}"
            continue
        yield start, reader.line_num, dict(zip(names, cells, strict=True))


def _column(record: dict[str, Any], role: str, mapping: Mapping[str, str]) -> Any:
    if role in mapping:
        return record.get(mapping[role])
    folded = {str(k).casefold(): k for k in record}
    for name in DEFAULT_COLUMNS[role]:
        if name in folded:
            return record[folded[name]]
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _row_of(
    line: int, end_line: int, record: dict[str, Any], mapping: Mapping[str, str]
) -> ImportRow | str:
    """The row, or why it cannot be imported."""
    for role, column in mapping.items():
        if column not in record:
            return f"no column {column!r} (--map {role}={column})"
    values = {role: _column(record, role, mapping) for role in ROLES}
    for role in ("question", "answer", "model_answer", "kind"):
        value = values[role]
        if value is not None and not isinstance(value, str):
            return f"the {role} is not text"
    question = _text(values["question"])
    if not question:
        return "no question (columns tried: " + _tried("question", mapping) + ")"
    answer, model_answer = _text(values["answer"]), _text(values["model_answer"])
    if not answer and not model_answer:
        return (
            "no answer (columns tried: "
            + _tried("answer", mapping)
            + ", "
            + _tried("model_answer", mapping)
            + ")"
        )
    kind_text = _text(values["kind"]).casefold() or DraftKind.QA.value
    try:
        kind = DraftKind(kind_text)
    except ValueError:
        known = ", ".join(k.value for k in DraftKind)
        return f"unknown kind {kind_text!r} (known: {known})"
    feedback = values["feedback"]
    feedback_text = None if feedback is None or feedback == "" else str(feedback).strip()
    return ImportRow(line, end_line, question, answer, model_answer, feedback_text or None, kind)


def _tried(role: str, mapping: Mapping[str, str]) -> str:
    return mapping[role] if role in mapping else "/".join(DEFAULT_COLUMNS[role])


# ---- grounding ------------------------------------------------------------------------------


def content_words(text: str) -> set[str]:
    """The words that say what a text is about: casefolded, no stopwords, 3+ letters."""
    return {w for w in normalise(text).split() if len(w) >= MIN_WORD_LETTERS and w not in STOPWORDS}


@dataclass(frozen=True)
class Support:
    chunk_id: str
    document: str
    shared: list[str]
    share: float


def find_support(
    ledger: Ledger, row: ImportRow, chunk_words: dict[str, frozenset[str]] | None = None
) -> Support | None:
    """The doc chunk that supports the row by the grounding rule, or None. ``chunk_words``
    caches each chunk's content words across the rows of one import."""
    words = content_words(row.question + " " + row.starting_answer)
    if not words:
        return None
    cache = {} if chunk_words is None else chunk_words
    best: Support | None = None
    for hit in ledger.search_chunks_any(sorted(words), limit=SUPPORT_CANDIDATES):
        if hit.chunk_id not in cache:
            chunk = ledger.get_chunk(hit.chunk_id)
            cache[hit.chunk_id] = frozenset(content_words(chunk.text)) if chunk else frozenset()
        shared = sorted(words & cache[hit.chunk_id])
        share = len(shared) / len(words)
        if len(shared) < MIN_SHARED_WORDS or share < MIN_SHARED_SHARE:
            continue
        if best is None or share > best.share:
            best = Support(hit.chunk_id, hit.document_path, shared, round(share, 4))
    return best


# ---- writing ---------------------------------------------------------------------------------


def row_chunk_text(row: ImportRow) -> str:
    """What the imported file's chunk for a row shows the reviewer."""
    parts = [f"Question: {row.question}"]
    if row.answer:
        parts.append(f"Answer: {row.answer}")
    if row.model_answer:
        parts.append(f"Model answer: {row.model_answer}")
    if row.feedback:
        parts.append(f"Feedback: {row.feedback}")
    return "\n".join(parts)


def import_file(
    ledger: Ledger,
    path: Path,
    mapping: Mapping[str, str] | None = None,
) -> ImportReport:
    """Import every good row of ``path`` not imported before; report the rest."""
    mapping = dict(mapping or {})
    data, fmt = read_import_file(path)
    file_hash = hash_bytes(data)
    report = ImportReport(file=str(path), file_hash=file_hash, format=fmt)
    rows, report.bad = parse_rows(data, fmt, mapping)
    report.rows = len(rows) + len(report.bad)
    if not rows:
        return report
    keys = {row.line: f"import:{file_hash}:{row.line}:{row.identity()}" for row in rows}
    done = ledger.finished_job_keys()
    todo = [row for row in rows if keys[row.line] not in done]
    report.already_imported = len(rows) - len(todo)
    # The imported file as a document of its own: one chunk per good row, so the same file
    # (and mapping) always makes the same document, and a rerun finds it unchanged.
    doc_hash = content_hash({"file_hash": file_hash, "mapping": mapping})
    report.document_path = f"{IMPORT_DOCUMENT_PREFIX}{path.name}@{doc_hash[3:15]}"
    if not todo:
        return report
    chunks = [
        ChunkIn(
            heading_path=[path.name, f"line {row.line}"],
            start_line=row.line,
            end_line=row.end_line,
            text=row_chunk_text(row),
        )
        for row in rows
    ]
    outcome = ledger.ingest_document(
        report.document_path, doc_hash, f"Imported rows of {path.name}", len(data), chunks
    )
    row_chunks = {c.start_line: c for c in ledger.chunks_of_document(outcome.document_id)}
    pending: list[tuple[GenerationCall, list[DraftIn]]] = []
    chunk_words: dict[str, frozenset[str]] = {}
    for row in todo:
        support = find_support(ledger, row, chunk_words)
        provenance: dict[str, Any] = {
            "file": path.name,
            "file_hash": file_hash,
            "line": row.line,
            "row_hash": row.identity(),
            "grounded": support is not None,
        }
        if row.model_answer:
            provenance["model_answer"] = row.model_answer
        if row.feedback is not None:
            provenance["feedback"] = row.feedback
        if support is not None:
            provenance["support"] = {
                "document": support.document,
                "shared_words": support.shared,
                "share": support.share,
            }
            report.grounded += 1
        else:
            report.ungrounded += 1
        chunk_id = support.chunk_id if support is not None else row_chunks[row.line].id
        draft = DraftIn(
            kind=row.kind,
            question=row.question,
            answer=row.starting_answer,
            meta={"import": provenance},
        )
        now = utc_now()
        call = GenerationCall(
            id=new_event_id(),
            job_key=keys[row.line],
            kind=row.kind,
            chunk_id=chunk_id,
            drafter=IMPORT_DRAFTER,
            # The imported file stands where a template would: its hash says what made the draft.
            template_name=f"import:{path.name}",
            template_hash=file_hash,
            model=IMPORT_DRAFTER,
            params={"file": path.name, "line": row.line, "format": fmt, "mapping": mapping},
            requested=1,
            started_at=now,
            finished_at=now,
        )
        pending.append((call, [draft]))
        if len(pending) >= CALLS_PER_COMMIT:
            report.imported += _store(ledger, pending)
    report.imported += _store(ledger, pending)
    return report


def _store(ledger: Ledger, pending: list[tuple[GenerationCall, list[DraftIn]]]) -> int:
    if not pending:
        return 0
    outcomes = ledger.record_calls(pending)
    pending.clear()
    return sum(len(outcome.stored_draft_ids) for outcome in outcomes)
