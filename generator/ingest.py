"""Read a docs folder into the ledger: one transaction per document, bad files skipped.

Each skipped file gets one warning naming it and why; nothing about it reaches the ledger,
and a version of it ingested earlier stays current. Skipped: binary (a NUL byte anywhere),
UTF-16, other non-UTF-8, empty, over ``MAX_DOC_BYTES``, not a regular file (FIFO, device),
unreadable, vanished, symlinks that loop, dangle or point outside the folder, and file names
that are not UTF-8 or hold control characters (shown escaped, so the warning stays one line).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator.checks import ai_addressed_sentences
from generator.chunking import MAX_CHUNK_CHARS, MIN_CHUNK_CHARS, chunk_text, document_title
from generator.userfiles import NotRegularFileError, TooLargeError, read_regular_file
from ledger import AiAddressedText, Chunk, IngestOutcome, Ledger
from ledger.ids import hash_bytes
from ledger.progress import NO_PROGRESS, Progress, counted

DOC_SUFFIXES = {".md": True, ".markdown": True, ".mdx": True, ".txt": False}  # -> is Markdown
MAX_DOC_BYTES = 10 * 1024 * 1024
_BINARY_SNIFF_BYTES = 8192


class DocsFolderError(Exception):
    """The docs folder is missing or unreadable: one line for the user."""


@dataclass
class IngestReport:
    outcomes: list[IngestOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    ignored_other: int = 0
    # The docs folder ingested before this one, when it was another folder (its documents
    # were replaced by this folder's).
    replaced_root: str | None = None
    # Sentences addressed to an AI assistant flagged by this ingest (not flagged before), by
    # document: each document gets one warning line.
    ai_addressed: dict[str, list[AiAddressedText]] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


def _document_files(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files under ``root``, and the folders that could not be listed (with why)."""
    files: list[Path] = []
    unlisted: list[tuple[Path, str]] = []

    def note(exc: OSError) -> None:
        unlisted.append((Path(exc.filename), exc.strerror or type(exc).__name__))

    for folder, dirnames, filenames in os.walk(root, onerror=note):
        # Hidden folders (.git, .obsidian, ...) are tooling, not docs.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(folder) / name for name in sorted(filenames) if not name.startswith("."))
    return files, unlisted


def _read_document(path: Path, root: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The file's bytes, or None and the reason it is skipped.

    The file is opened first and every check is made on what was opened (``fstat`` of the
    descriptor), so a file swapped for a FIFO, a symlink or a bigger file between listing and
    reading cannot slip past them. ``O_NONBLOCK`` keeps the open of a FIFO from waiting for a
    writer; ``O_NOFOLLOW`` refuses a file that became a symlink after its check.
    """
    target = path
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return None, "broken symlink"
        except (RuntimeError, OSError):  # RuntimeError: Python 3.11's "Symlink loop"
            return None, "symlink loop"
        if not target.is_relative_to(root.resolve()):
            return None, "symlink points outside the docs folder"
    try:
        return read_regular_file(target, max_bytes, no_follow=True), None
    except FileNotFoundError:
        return None, "vanished while reading"
    except NotRegularFileError:
        # A FIFO or device named *.md would block or never end when read.
        return None, "not a regular file"
    except TooLargeError as exc:
        return None, _too_big(max_bytes, exc.size)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "turned into a symlink while reading"
        return None, f"cannot be read ({exc.strerror})"


def _too_big(max_bytes: int, size: int) -> str:
    return f"larger than the {max_bytes // (1024 * 1024)} MB limit ({size} bytes)"


def decode_document(data: bytes) -> tuple[str | None, str | None]:
    """The text of a document's bytes, or None and why it is not text Draftgate reads.

    UTF-16 (with a byte-order mark, or without one but with a NUL in every other byte) is named
    as such, so the user knows to re-save it as UTF-8; any other NUL byte, anywhere in the file,
    makes it binary.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(data):
        return None, "UTF-16 text (not UTF-8)"
    if b"\x00" in data:
        return None, "binary file"
    if not data.strip():
        return None, "empty file"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (bad byte at offset {exc.start})"
    return text, None


def _looks_utf16(data: bytes) -> bool:
    sample = data[:_BINARY_SNIFF_BYTES]
    if len(sample) < 4 or len(sample) % 2:
        sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return False
    half = len(sample) // 2
    for zeros, other, codec in (
        (sample[1::2], sample[0::2], "utf-16-le"),
        (sample[0::2], sample[1::2], "utf-16-be"),
    ):
        if zeros.count(0) >= 0.8 * half and other.count(0) == 0:
            try:
                data[: len(data) - len(data) % 2].decode(codec)
            except UnicodeDecodeError:
                return False
            return True
    return False


# A name with one of these in it would break the one-line warning (or the terminal) apart.
_BAD_NAME_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes os.fsdecode could not decode


def printable_path(rel: str) -> str:
    """``rel`` for one line of output: undecodable bytes as ``\\xNN``, control characters
    escaped as Python writes them (``\\n``, ``\\x1b``)."""
    rel = _UNDECODABLE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", rel)
    return _BAD_NAME_CHARS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), rel)


def _bad_name(rel: str) -> str | None:
    if _UNDECODABLE.search(rel):
        return "file name is not UTF-8"
    if _BAD_NAME_CHARS.search(rel):
        return "file name has control characters"
    return None


def check_docs_folder(docs_dir: str | Path) -> Path:
    """The docs folder as a Path, or DocsFolderError if it is missing or not a folder."""
    root = Path(docs_dir)
    if not root.exists():
        raise DocsFolderError(f"docs folder not found: {root}")
    if not root.is_dir():
        raise DocsFolderError(f"not a folder: {root}")
    return root


def ingest_folder(
    ledger: Ledger,
    docs_dir: str | Path,
    *,
    max_bytes: int = MAX_DOC_BYTES,
    max_chars: int = MAX_CHUNK_CHARS,
    min_chars: int = MIN_CHUNK_CHARS,
    on_file: Callable[[str], None] | None = None,
    progress: Progress = NO_PROGRESS,
) -> IngestReport:
    root = check_docs_folder(docs_dir)
    report = IngestReport()
    prefix = _key_prefix(ledger, root)
    present: set[str] = set()
    files, unlisted = _document_files(root)
    for folder, reason in unlisted:
        if folder == root:
            # Listing nothing would mark every document of the folder removed.
            raise DocsFolderError(f"cannot read docs folder {root}: {reason}")
        # Like an unreadable file, a folder that cannot be listed keeps its documents current.
        rel_folder = prefix + folder.relative_to(root).as_posix() + "/"
        warning = f"skipped {printable_path(rel_folder)}: cannot be read ({reason})"
        report.warnings.append(warning)
        present.update(d.path for d in ledger.current_documents() if d.path.startswith(rel_folder))
    progress.begin(len(files), "files")
    for path in counted(files, progress, every=1):
        rel = prefix + path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if suffix not in DOC_SUFFIXES:
            report.ignored_other += 1
            continue
        bad_name = _bad_name(rel)
        if bad_name is not None:
            present.add(rel)  # one an older Draftgate ingested keeps its version current
            report.warnings.append(f"skipped {printable_path(rel)}: {bad_name}")
            continue
        if on_file is not None:
            on_file(rel)
        data, why = _read_document(path, root, max_bytes)
        text = None
        if data is not None:
            text, why = decode_document(data)
        if data is None or text is None:
            # A file that is there but unreadable keeps its earlier version (if any) current.
            present.add(rel)
            report.warnings.append(f"skipped {rel}: {why}")
            continue
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        is_markdown = DOC_SUFFIXES[suffix]
        mdx = suffix == ".mdx"
        title = document_title(text, path.stem, mdx=mdx) if is_markdown else path.stem
        chunks = chunk_text(
            text,
            markdown=is_markdown,
            mdx=mdx,
            root_heading="" if is_markdown else title,
            max_chars=max_chars,
            min_chars=min_chars,
        )
        if not chunks:
            present.add(rel)
            report.warnings.append(f"skipped {rel}: no text after parsing")
            continue
        present.add(rel)
        report.outcomes.append(
            ledger.ingest_document(rel, hash_bytes(data), title, len(data), chunks)
        )
    # One ledger holds one product's docs: whatever this folder does not hold (a file removed,
    # or every file of another folder ingested before) is no longer current.
    report.removed = ledger.mark_removed("", present)
    report.ai_addressed = flag_ai_addressed_text(ledger)
    previous = ledger.ingest_root()
    resolved = str(root.resolve())
    if previous is not None and previous.root != resolved:
        report.replaced_root = previous.root
    if previous is None or previous.root != resolved or previous.key_prefix != prefix:
        ledger.record_ingest_root(resolved, prefix)
    return report


def ai_addressed_in(chunk: Chunk, document: str = "") -> list[AiAddressedText]:
    """The chunk's sentences addressed to an AI, each with the document line it starts on."""
    flags: list[AiAddressedText] = []
    text = chunk.text.replace("\u2019", "'")  # as ai_addressed_sentences reads it
    start = 0
    for sentence in ai_addressed_sentences(chunk.text):
        offset = text.find(sentence, start)
        if offset == -1:
            offset = text.find(sentence)
        if offset != -1:
            start = offset + len(sentence)
        line = chunk.start_line + text.count("\n", 0, max(offset, 0))
        flags.append(AiAddressedText(chunk.id, line, sentence, document))
    return flags


def flag_ai_addressed_text(ledger: Ledger) -> dict[str, list[AiAddressedText]]:
    """Check every current chunk for text addressed to an AI and store the flags not stored
    yet (a ledger from before flags existed gets its older chunks checked here too). The
    newly stored flags, by document path."""
    paths = {d.id: d.path for d in ledger.current_documents()}
    found = [
        flag
        for chunk in ledger.current_chunks()
        for flag in ai_addressed_in(chunk, paths.get(chunk.document_id, ""))
    ]
    by_document: dict[str, list[AiAddressedText]] = {}
    for flag in ledger.record_ai_addressed(found):
        by_document.setdefault(flag.document, []).append(flag)
    return by_document


def _key_prefix(ledger: Ledger, root: Path) -> str:
    """What document paths are keyed with: their path inside the docs folder.

    A ledger written before the docs root was recorded keyed them as "<folder name>/<path>";
    it keeps that prefix, so documents whose text is unchanged stay current (and their drafts
    fresh) when the same docs are ingested again.
    """
    recorded = ledger.ingest_root()
    if recorded is not None:
        return recorded.key_prefix
    legacy = root.resolve().name + "/"
    documents = ledger.current_documents()
    if documents and any(d.path.startswith(legacy) for d in documents):
        return legacy
    return ""
