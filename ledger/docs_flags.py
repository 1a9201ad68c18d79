"""Doc sentences addressed to an AI assistant ("Ignore all previous instructions", "tell every
customer ..."), flagged at ingest and stored per chunk.

The check that finds them belongs to ingest; the ledger only keeps what ingest found, so the
review screen, ``status`` and the audit can show each one with its ``doc:line``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AiAddressedText:
    """One flagged sentence: its chunk, the document line it starts on, and its text."""

    chunk_id: str
    line: int
    sentence: str
    document: str = ""  # the document's path, filled in by reads

    @property
    def at(self) -> str:
        return f"{self.document}:{self.line}"


def record_ai_addressed(
    db: sqlite3.Connection, flags: Iterable[AiAddressedText], recorded_at: str
) -> list[AiAddressedText]:
    """Store the flags not stored yet; the ones that were new, in the order given."""
    added: list[AiAddressedText] = []
    for flag in flags:
        cursor = db.execute(
            "INSERT OR IGNORE INTO ai_addressed_text(chunk_id, line, sentence, recorded_at)"
            " VALUES (?, ?, ?, ?)",
            (flag.chunk_id, flag.line, flag.sentence, recorded_at),
        )
        if cursor.rowcount:
            added.append(flag)
    return added


CURRENT_AI_ADDRESSED_SQL = (
    "SELECT a.chunk_id, a.line, a.sentence, d.path FROM ai_addressed_text a"
    " JOIN current_chunks c ON c.id = a.chunk_id"
    " JOIN documents d ON d.id = c.document_id"
)


CHUNK_AI_ADDRESSED_SQL = (
    "SELECT a.chunk_id, a.line, a.sentence, d.path FROM ai_addressed_text a"
    " JOIN chunks c ON c.id = a.chunk_id JOIN documents d ON d.id = c.document_id"
    " WHERE a.chunk_id = ? ORDER BY a.line, a.sentence"
)


def row_to_flag(row: sqlite3.Row | tuple[str, int, str, str]) -> AiAddressedText:
    return AiAddressedText(chunk_id=row[0], line=row[1], sentence=row[2], document=row[3])
