"""Read a docs folder into the ledger: one transaction per document, bad files skipped.

Each skipped file gets one warning naming it and why; nothing about it reaches the ledger.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator.chunking import MAX_CHUNK_CHARS, MIN_CHUNK_CHARS, chunk_text, document_title
from ledger import IngestOutcome, Ledger
from ledger.ids import hash_bytes

DOC_SUFFIXES = {".md": True, ".markdown": True, ".txt": False}  # suffix -> is Markdown
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

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


def _document_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder, dirnames, filenames in os.walk(root):
        # Hidden folders (.git, .obsidian, ...) are tooling, not docs.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(folder) / name for name in sorted(filenames) if not name.startswith("."))
    return files


def _read_document(path: Path, root: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The file's bytes, or None and the reason it is skipped."""
    if path.is_symlink():
        try:
            target = path.resolve()
        except (RuntimeError, OSError):  # RuntimeError: Python 3.11's "Symlink loop"
            return None, "symlink loop"
        if not target.is_relative_to(root.resolve()):
            return None, "symlink points outside the docs folder"
        if not target.exists():
            return None, "broken symlink"
    try:
        if path.exists() and not path.is_file():
            # A FIFO or device named *.md would block or never end when read.
            return None, "not a regular file"
        size = path.stat().st_size
        if size > max_bytes:
            return None, f"larger than the {max_bytes // (1024 * 1024)} MB limit ({size} bytes)"
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "vanished while reading"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return None, "binary file"
    if not data.strip():
        return None, "empty file"
    return data, None


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
) -> IngestReport:
    root = check_docs_folder(docs_dir)
    report = IngestReport()
    # Paths in the ledger are "<folder name>/<path inside it>", so two docs folders can share
    # one ledger and a file removed from one folder does not touch the other's documents.
    prefix = root.resolve().name + "/"
    present: set[str] = set()
    for path in _document_files(root):
        rel = prefix + path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if suffix not in DOC_SUFFIXES:
            report.ignored_other += 1
            continue
        if on_file is not None:
            on_file(rel)
        data, why = _read_document(path, root, max_bytes)
        if data is None:
            # A file that is there but unreadable keeps its earlier version (if any) current.
            present.add(rel)
            report.warnings.append(f"skipped {rel}: {why}")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            present.add(rel)
            report.warnings.append(f"skipped {rel}: not UTF-8 (bad byte at offset {exc.start})")
            continue
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        is_markdown = DOC_SUFFIXES[suffix]
        title = document_title(text, path.stem) if is_markdown else path.stem
        chunks = chunk_text(
            text,
            markdown=is_markdown,
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
    report.removed = ledger.mark_removed(prefix, present)
    return report
