"""Recompute every content hash and walk the whole decision chain, reporting each break."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ledger.chain import GENESIS_HASH, decision_entry_hash
from ledger.ids import text_hash
from ledger.models import ChunkIn, DraftIn, DraftKind
from ledger.store import Ledger, chunk_id, document_id, draft_id


@dataclass(frozen=True)
class Break:
    """One integrity failure: what kind, which record, and what is wrong with it."""

    kind: str
    ref: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.ref}: {self.detail}"


def verify(ledger: Ledger) -> list[Break]:
    breaks: list[Break] = []
    breaks += _verify_documents(ledger)
    breaks += _verify_chunks(ledger)
    breaks += _verify_drafts(ledger)
    breaks += _verify_chain(ledger)
    return breaks


def _verify_documents(ledger: Ledger) -> list[Break]:
    breaks = []
    for row in ledger.iter_query("SELECT * FROM documents"):
        expected = document_id(
            row["path"], row["content_hash"], bool(row["removed"]), row["ingested_at"]
        )
        if row["id"] != expected:
            breaks.append(Break("document_hash", row["id"], f"{row['path']} does not match its id"))
    return breaks


def _verify_chunks(ledger: Ledger) -> list[Break]:
    breaks = []
    for row in ledger.iter_query(
        "SELECT c.*, d.id IS NOT NULL AS has_document FROM chunks c"
        " LEFT JOIN documents d ON d.id = c.document_id"
    ):
        if not row["has_document"]:
            breaks.append(
                Break("chunk_document", row["id"], f"document {row['document_id']} is missing")
            )
        actual_text_hash = text_hash(row["text"])
        if actual_text_hash != row["text_hash"]:
            breaks.append(Break("chunk_text", row["id"], "chunk text does not match its hash"))
            continue
        chunk = ChunkIn(
            heading_path=json.loads(row["heading_path"]),
            start_line=row["start_line"],
            end_line=row["end_line"],
            text=row["text"],
        )
        if chunk_id(row["document_id"], row["ordinal"], chunk, actual_text_hash) != row["id"]:
            breaks.append(Break("chunk_hash", row["id"], "chunk fields do not match its id"))
    return breaks


def _verify_drafts(ledger: Ledger) -> list[Break]:
    breaks = []
    for row in ledger.iter_query(
        "SELECT dr.*, c.id IS NOT NULL AS has_chunk, g.id IS NOT NULL AS has_call"
        " FROM drafts dr LEFT JOIN chunks c ON c.id = dr.chunk_id"
        " LEFT JOIN generation_calls g ON g.id = dr.call_id"
    ):
        # A draft must still lead back to its source text and the call that wrote it.
        if not row["has_chunk"]:
            breaks.append(Break("draft_chunk", row["id"], f"chunk {row['chunk_id']} is missing"))
        if not row["has_call"]:
            breaks.append(
                Break("draft_call", row["id"], f"generation call {row['call_id']} is missing")
            )
        draft = DraftIn(
            kind=DraftKind(row["kind"]),
            subtype=row["subtype"],
            question=row["question"],
            answer=row["answer"],
            evidence=json.loads(row["evidence"]),
            meta=json.loads(row["meta"]),
        )
        if draft_id(row["chunk_id"], draft) != row["id"]:
            breaks.append(Break("draft_hash", row["id"], "draft text does not match its id"))
    return breaks


def _verify_chain(ledger: Ledger) -> list[Break]:
    breaks = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    # The draft's presence comes from the same read: one query per decision would dominate
    # the walk at 100k decisions.
    for row in ledger.iter_query(
        "SELECT d.*, dr.id IS NULL AS draft_missing FROM decisions d"
        " LEFT JOIN drafts dr ON dr.id = d.draft_id ORDER BY d.seq"
    ):
        fields = dict(row)
        ref = f"decision #{row['seq']} ({row['id']})"
        if row["seq"] != expected_seq:
            breaks.append(
                Break(
                    "chain_gap",
                    ref,
                    f"decisions #{expected_seq}..#{row['seq'] - 1} are missing",
                )
            )
        if row["prev_hash"] != prev_hash:
            breaks.append(Break("chain_link", ref, "prev_hash does not match the entry before"))
        if decision_entry_hash(fields) != row["entry_hash"]:
            breaks.append(Break("decision_hash", ref, "decision fields do not match entry_hash"))
        if row["draft_missing"]:
            breaks.append(Break("decision_draft", ref, f"draft {row['draft_id']} is missing"))
        expected_seq = row["seq"] + 1
        prev_hash = row["entry_hash"]
    # Deleting the newest decisions leaves a self-consistent chain; SQLite's AUTOINCREMENT
    # counter still remembers the highest seq ever handed out.
    counter = ledger.query("SELECT seq FROM sqlite_sequence WHERE name = 'decisions'")
    if counter and counter[0][0] > expected_seq - 1:
        breaks.append(
            Break(
                "chain_truncated",
                f"decision #{counter[0][0]}",
                f"decisions #{expected_seq}..#{counter[0][0]} were removed from the end",
            )
        )
    return breaks
