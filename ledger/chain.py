"""The decision hash chain: each entry's hash covers its fields and the previous entry's hash."""

from __future__ import annotations

from typing import Any

from ledger.ids import content_hash

GENESIS_HASH = "b2:genesis"

# The fields an entry hash covers, in the order they are stored. ``seq`` is included so that
# reordering rows breaks the chain even when every row is otherwise intact.
CHAINED_FIELDS = (
    "seq",
    "id",
    "draft_id",
    "reviewer",
    "verdict",
    "final_question",
    "final_answer",
    "reason",
    "note",
    "reverts_decision_id",
    "shown_at",
    "decided_at",
    "dwell_ms",
    "edit_distance",
    "double_review",
    "prev_hash",
)


def decision_entry_hash(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in CHAINED_FIELDS}
    payload["double_review"] = bool(payload["double_review"])
    return content_hash(payload)
