"""Build ledgers for tests through the public ledger API (never raw SQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger import ChunkIn, DraftIn, DraftKind, GenerationCall, Ledger, utc_now
from ledger.ids import new_event_id, text_hash

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DOCS = REPO_ROOT / "product_docs"


def add_document(
    ledger: Ledger, path: str = "docs/guide.md", sections: list[str] | None = None
) -> list[str]:
    """Ingest a small document; returns its chunk ids in order."""
    sections = sections or [
        "## Billing\n\nOpen **Settings > Billing > Invoices** to download invoices.",
        "## Team\n\nInvite people from **Team > Members** with **Invite member**.",
    ]
    chunks = []
    line = 1
    for text in sections:
        n = text.count("\n") + 1
        chunks.append(
            ChunkIn(
                heading_path=[text.splitlines()[0].lstrip("# ")],
                start_line=line,
                end_line=line + n - 1,
                text=text,
            )
        )
        line += n + 1
    outcome = ledger.ingest_document(path, text_hash("\n\n".join(sections)), "Guide", 100, chunks)
    rows = [c for c in ledger.current_chunks() if c.document_id == outcome.document_id]
    return [c.id for c in rows]


def add_drafts(
    ledger: Ledger,
    chunk_id: str,
    drafts: list[DraftIn] | None = None,
    *,
    kind: DraftKind = DraftKind.QA,
    count: int = 3,
    model: str = "test-model",
    template_hash: str = "b2:template",
) -> list[str]:
    """Record one generation call with drafts on a chunk; returns the stored draft ids."""
    if drafts is None:
        drafts = [
            DraftIn(
                kind=kind,
                question=f"How do I do thing {i} ({new_event_id()})?",
                answer=f"Open Settings > Billing > Invoices and pick item {i}.",
                evidence=["Open **Settings > Billing > Invoices**"],
            )
            for i in range(count)
        ]
    call = generation_call(
        chunk_id,
        kind=drafts[0].kind if drafts else kind,
        template_name=f"{kind.value}.j2",
        template_hash=template_hash,
        model=model,
        requested=len(drafts),
    )
    return ledger.record_call(call, drafts).stored_draft_ids


def add_failed_call(
    ledger: Ledger, chunk_id: str, *, requested: int = 2, error: str = "timeout"
) -> GenerationCall:
    """Record a generation call that failed (no drafts); returns it as stored."""
    call = generation_call(
        chunk_id, drafter="llm", status="failed", error=error, requested=requested
    )
    return ledger.record_call(call, []).call


def generation_call(chunk_id: str, **fields: Any) -> GenerationCall:
    """A qa generation call on ``chunk_id`` by a test drafter, fresh ids, now; ``fields``
    override any of it."""
    now = utc_now()
    defaults: dict[str, Any] = {
        "id": new_event_id(),
        "job_key": new_event_id(),
        "kind": DraftKind.QA,
        "chunk_id": chunk_id,
        "drafter": "test",
        "template_name": "qa.j2",
        "template_hash": "b2:template",
        "model": "test-model",
        "requested": 1,
        "started_at": now,
        "finished_at": now,
    }
    return GenerationCall(**{**defaults, **fields})
