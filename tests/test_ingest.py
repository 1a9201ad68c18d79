"""Ingesting a docs folder: the sample docs, bad files, re-ingest and staleness."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from generator.chunking import MAX_CHUNK_CHARS, MIN_CHUNK_CHARS
from generator.ingest import MAX_DOC_BYTES, DocsFolderError, ingest_folder
from ledger import Ledger
from ledger import store as ledger_store
from tests.support.builders import SAMPLE_DOCS, add_drafts

SAMPLE_FILES = sorted(p.name for p in SAMPLE_DOCS.glob("*.md"))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of the sample docs (same folder name, so the same ledger paths)."""
    copy = tmp_path / "src" / "product_docs"
    shutil.copytree(SAMPLE_DOCS, copy)
    return copy


def _document_rows(db: Ledger) -> int:
    return int(db.query("SELECT count(*) FROM documents")[0][0])


def _chunk_rows(db: Ledger) -> int:
    return int(db.query("SELECT count(*) FROM chunks")[0][0])


def test_sample_docs_ingest_with_sensible_chunks(ledger: Ledger) -> None:
    assert len(SAMPLE_FILES) == 11
    report = ingest_folder(ledger, SAMPLE_DOCS)
    assert report.warnings == []
    assert report.count("new") == 11
    assert report.ignored_other == 1  # scope.toml
    documents = ledger.current_documents()
    assert [d.path for d in documents] == [f"{name}" for name in SAMPLE_FILES]
    chunks = ledger.current_chunks()
    by_doc = {d.id: [c for c in chunks if c.document_id == d.id] for d in documents}
    for doc in documents:
        doc_chunks = by_doc[doc.id]
        # 5-6 KB files: a handful of chunks each, neither one blob nor one per line.
        assert 5 <= len(doc_chunks) <= 25, doc.path
        lines = (SAMPLE_DOCS / Path(doc.path).name).read_text(encoding="utf-8").splitlines()
        assert doc.title == lines[0].removeprefix("# ")
        for chunk in doc_chunks:
            assert MIN_CHUNK_CHARS <= len(chunk.text) <= MAX_CHUNK_CHARS, (doc.path, chunk)
            span = "\n".join(lines[chunk.start_line - 1 : chunk.end_line]).strip("\n")
            assert chunk.text == span, (doc.path, chunk.start_line)
            assert chunk.heading_path and chunk.heading_path[0] == doc.title
        assert [c.ordinal for c in doc_chunks] == list(range(len(doc_chunks)))
    assert ledger.status().chunks == len(chunks) == sum(o.chunk_count for o in report.outcomes)
    # A sub-heading from the navigation doc shows up as a heading path.
    assert any(len(c.heading_path) >= 2 for c in chunks)


def test_bad_files_are_skipped_with_one_warning_each(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nShifts are published from **Schedule**.\n")
    (folder / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "empty.md").write_bytes(b"")
    (folder / "blank.txt").write_text("  \n\n\t\n")
    (folder / "latin1.md").write_bytes("# Café\n\nPrix en français.\n".encode("latin-1"))
    with (folder / "huge.md").open("wb") as huge:
        huge.write(b"# Huge\n\n")
        huge.write(b"Twenty megabytes of text. " * (20 * 1024 * 1024 // 26 + 1))
    assert (folder / "huge.md").stat().st_size > 20 * 1024 * 1024 > MAX_DOC_BYTES
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n\nNot part of the docs.\n")
    (folder / "link.md").symlink_to(outside)
    (folder / "image.png").write_bytes(b"\x89PNG")  # not a doc suffix: ignored quietly

    report = ingest_folder(ledger, folder)

    assert [o.path for o in report.outcomes] == ["good.md"]
    reasons = {w.split(":")[0].removeprefix("skipped "): w for w in report.warnings}
    assert sorted(reasons) == [
        "binary.md",
        "blank.txt",
        "empty.md",
        "huge.md",
        "latin1.md",
        "link.md",
    ]
    assert len(report.warnings) == 6
    assert "binary" in reasons["binary.md"]
    assert "empty" in reasons["empty.md"]
    assert "empty" in reasons["blank.txt"]
    assert "not UTF-8" in reasons["latin1.md"]
    assert "10 MB limit" in reasons["huge.md"]
    assert "outside the docs folder" in reasons["link.md"]
    assert all("\n" not in w for w in report.warnings)
    assert report.ignored_other == 1
    # Nothing of the skipped files reached the ledger.
    assert [d.path for d in ledger.current_documents()] == ["good.md"]
    assert _document_rows(ledger) == 1
    assert not any("Secret" in c.text or "Café" in c.text for c in ledger.current_chunks())


def test_symlink_inside_the_folder_is_followed(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "real.md").write_text("# Real\n\nThe roster page.\n")
    (folder / "alias.md").symlink_to(folder / "real.md")
    report = ingest_folder(ledger, folder)
    assert report.warnings == []
    assert sorted(o.path for o in report.outcomes) == ["alias.md", "real.md"]


def test_a_failure_mid_document_writes_nothing_of_it(
    ledger: Ledger, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fail while the first document's third chunk is being written.
    original = ledger_store.chunk_id
    calls = {"n": 0}

    def failing_chunk_id(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(ledger_store, "chunk_id", failing_chunk_id)
    with pytest.raises(OSError, match="disk full"):
        ingest_folder(ledger, docs)
    assert _document_rows(ledger) == 0
    assert _chunk_rows(ledger) == 0
    assert ledger.status().documents == 0


def test_missing_or_non_folder_docs_path_is_an_error(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(DocsFolderError, match="docs folder not found"):
        ingest_folder(ledger, tmp_path / "nope")
    (tmp_path / "file.md").write_text("# x\n")
    with pytest.raises(DocsFolderError, match="not a folder"):
        ingest_folder(ledger, tmp_path / "file.md")
    assert _document_rows(ledger) == 0


def test_reingest_unchanged_is_a_no_op(ledger: Ledger, docs: Path) -> None:
    first = ingest_folder(ledger, docs)
    rows = (_document_rows(ledger), _chunk_rows(ledger))
    status = ledger.status().as_dict()
    second = ingest_folder(ledger, docs)
    assert second.count("unchanged") == 11 and second.count("new") == second.count("changed") == 0
    assert second.removed == [] and second.warnings == []
    assert [o.document_id for o in second.outcomes] == [o.document_id for o in first.outcomes]
    assert (_document_rows(ledger), _chunk_rows(ledger)) == rows
    assert ledger.status().as_dict() == status


def test_changed_doc_gets_new_chunks_and_only_changed_sections_go_stale(
    ledger: Ledger, docs: Path
) -> None:
    ingest_folder(ledger, docs)
    path = "plans-and-pricing.md"
    text = (docs / "plans-and-pricing.md").read_text(encoding="utf-8")
    chunks_before = ledger.current_chunks()
    doc_chunks = [
        c
        for c in chunks_before
        if ledger.get_document(c.document_id).path == path  # type: ignore[union-attr]
    ]
    first, last = doc_chunks[0], doc_chunks[-1]
    drafts_first = add_drafts(ledger, first.id, count=2)
    drafts_last = add_drafts(ledger, last.id, count=2)
    other_doc_chunk = next(c for c in chunks_before if c.document_id != first.document_id)
    drafts_other = add_drafts(ledger, other_doc_chunk.id, count=1)
    assert ledger.status().stale == 0

    # Edit only the first section's text (inserting a line also shifts every later line).
    first_line = text.splitlines()[first.start_line]
    edited = text.replace(first_line, first_line + "\nPrices changed in 2026.", 1)
    assert edited != text
    (docs / "plans-and-pricing.md").write_text(edited, encoding="utf-8")

    report = ingest_folder(ledger, docs)
    assert report.count("changed") == 1 and report.count("unchanged") == 10
    changed = next(o for o in report.outcomes if o.state == "changed")
    assert changed.path == path and changed.document_id != first.document_id
    new_chunks = [c for c in ledger.current_chunks() if c.document_id == changed.document_id]
    assert {c.id for c in new_chunks}.isdisjoint({c.id for c in doc_chunks})
    assert any("Prices changed in 2026." in c.text for c in new_chunks)

    assert all(ledger.is_stale(d) for d in drafts_first)
    # By design staleness follows chunk text: the last section's text did not change.
    assert not any(ledger.is_stale(d) for d in drafts_last + drafts_other)
    status = ledger.status()
    assert status.stale == 2 and status.stale_pending == 2
    stale_queue = [d.id for _, d in ledger.pending_drafts(stale=True)]
    assert sorted(stale_queue) == sorted(drafts_first)
    # The old version stays in the ledger (nothing is deleted), but is no longer current.
    assert ledger.get_chunk(first.id) is not None
    assert first.id not in {c.id for c in ledger.current_chunks()}


def test_removed_file_makes_its_drafts_stale(ledger: Ledger, docs: Path) -> None:
    ingest_folder(ledger, docs)
    chunk = next(
        c
        for c in ledger.current_chunks()
        if ledger.get_document(c.document_id).path == "faq.md"  # type: ignore[union-attr]
    )
    drafts = add_drafts(ledger, chunk.id, count=2)
    (docs / "faq.md").unlink()
    report = ingest_folder(ledger, docs)
    assert report.removed == ["faq.md"]
    assert all(ledger.is_stale(d) for d in drafts)
    status = ledger.status()
    assert status.documents == 10 and status.documents_removed == 1 and status.stale == 2
    assert "faq.md" not in {d.path for d in ledger.current_documents()}
    # Putting the file back makes the same text current again.
    shutil.copy(SAMPLE_DOCS / "faq.md", docs / "faq.md")
    again = ingest_folder(ledger, docs)
    assert [o.state for o in again.outcomes if o.path.endswith("faq.md")] == ["changed"]
    assert not any(ledger.is_stale(d) for d in drafts)
    assert ledger.status().documents_removed == 0


def test_a_file_turned_unreadable_keeps_its_last_version(ledger: Ledger, docs: Path) -> None:
    ingest_folder(ledger, docs)
    (docs / "limits.md").write_bytes(b"\x00\x01binary now")
    report = ingest_folder(ledger, docs)
    assert report.removed == []
    assert report.warnings == ["skipped limits.md: binary file"]
    assert "limits.md" in {d.path for d in ledger.current_documents()}


def test_hidden_folders_are_not_docs(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "notes.md").write_text("# Git notes\n\nnot docs\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "page.md").write_text("# Page\n\nNested page.\n")
    report = ingest_folder(ledger, folder)
    assert [o.path for o in report.outcomes] == ["sub/page.md"]
    assert os.path.exists(folder / ".git" / "notes.md")


def test_symlink_loop_and_fifo_are_skipped_not_fatal(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe roster page.\n")
    (folder / "loop.md").symlink_to(folder / "loop.md")
    (folder / "dangling.md").symlink_to(folder / "gone.md")
    os.mkfifo(folder / "pipe.md")  # reading it would block forever
    report = ingest_folder(ledger, folder)
    assert [o.path for o in report.outcomes] == ["good.md"]
    reasons = {w.split(":")[0].removeprefix("skipped "): w for w in report.warnings}
    assert sorted(reasons) == ["dangling.md", "loop.md", "pipe.md"]
    assert "symlink loop" in reasons["loop.md"]
    assert "not a regular file" in reasons["pipe.md"]
    assert "broken symlink" in reasons["dangling.md"]
