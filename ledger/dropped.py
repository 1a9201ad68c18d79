"""Candidates a drafter chose not to draft (a negative whose feature the docs affirm, a wrong
UI name the docs use, ...), as both drafters store them in their call's
``params["dropped_drafts"]``: kind, name, reason, the ``doc:line`` of the text that decided
it and that text.

A typed read over the current generation calls, so ``status`` and the audit never dig in JSON.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

DROPPED_DRAFTS_PARAM = "dropped_drafts"
# The reason both drafters give a candidate left out because its chunk already had its share
# of drafts: a count, not a judgment on the candidate, so listings name only the others.
PER_CHUNK_FULL = "per_chunk_full"


@dataclass(frozen=True)
class DroppedCandidate:
    kind: str
    name: str
    reason: str
    at: str  # "doc:line" of the text that decided it; "" when no text did
    text: str
    call_id: str
    drafter: str

    @property
    def judged(self) -> bool:
        """Dropped on its merits (not for want of room on its chunk)."""
        return self.reason != PER_CHUNK_FULL

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "reason": self.reason,
            "at": self.at,
            "text": self.text,
            "call_id": self.call_id,
            "drafter": self.drafter,
        }


# One row per ok call on a current chunk, with what makes two calls the same job but for
# their inputs: a rerun after the scope or the docs changed supersedes the older call's drops.
_CALLS_SQL = (
    "SELECT gc.rowid, gc.id, gc.chunk_id, gc.kind, gc.drafter, gc.template_name, gc.model,"
    " json_extract(gc.params, '$.subtype'), instr(gc.params, '\"dropped_drafts\"') > 0"
    " FROM generation_calls gc WHERE gc.status = 'ok'"
    " AND gc.chunk_id IN (SELECT id FROM current_chunks) ORDER BY gc.rowid"
)


def current_dropped_candidates(db: sqlite3.Connection) -> list[DroppedCandidate]:
    """Every candidate dropped by the newest ok call of each job on a current chunk, in the
    order the calls were recorded."""
    newest: dict[tuple[Any, ...], tuple[str, bool]] = {}
    for row in db.execute(_CALLS_SQL):
        job = (row[2], row[3], row[4], row[5], row[6], row[7])
        newest[job] = (row[1], bool(row[8]))
    wanted = {call_id for call_id, has_drops in newest.values() if has_drops}
    found: list[DroppedCandidate] = []
    if not wanted:
        return found
    for call_id, drafter, params_json in db.execute(
        "SELECT id, drafter, params FROM generation_calls WHERE instr(params, '\"dropped_drafts\"')"
        " > 0 ORDER BY rowid"
    ):
        if call_id not in wanted:
            continue
        records = json.loads(params_json).get(DROPPED_DRAFTS_PARAM) or []
        for record in records:
            if not isinstance(record, dict):
                continue
            found.append(
                DroppedCandidate(
                    kind=str(record.get("kind", "")),
                    name=str(record.get("name", "")),
                    reason=str(record.get("reason", "")),
                    at=str(record.get("at", "")),
                    text=str(record.get("text", "")),
                    call_id=call_id,
                    drafter=drafter,
                )
            )
    return found
