"""The decision hash chain: each entry's hash covers its fields and the previous entry's hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger.ids import DIGEST_BYTES, HASH_PREFIX, canonical_json, content_hash

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
    # The review session that made the decision (schema 4 on): hashed when present, so a
    # decision written without one keeps the hash it was written with.
    if fields.get("session_id") is not None:
        payload["session_id"] = fields["session_id"]
    return content_hash(payload)


# ---- hashes of the other event rows -------------------------------------------------------
# Generation calls, review leases and exports are event rows with no content id; each carries
# a hash of its own fields, computed when it is written (and by migration 3 for older rows), so
# verify() can tell an edited row. Like the chain, a hash only proves what an anchor kept
# elsewhere still matches: someone who recomputes it after an edit is caught by the links
# (drafts_hash, the lease and call counters, the export heads), not by the hash itself.

CALL_FIELDS = (
    "id",
    "job_key",
    "kind",
    "chunk_id",
    "drafter",
    "template_name",
    "template_hash",
    "model",
    "endpoint_host",
    "params",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "status",
    "error",
    "requested",
    "produced",
    "dropped",
    "started_at",
    "finished_at",
    "drafts_hash",
)

LEASE_FIELDS = ("rowid_", "draft_id", "reviewer", "session_id", "claimed_at", "expires_at")

EXPORT_FIELDS = (
    "id",
    "created_at",
    "format",
    "out_dir",
    "head_seq",
    "head_hash",
    "record_count",
    "manifest_hash",
    "seed",
    "command",
)


def drafts_hash(draft_ids: Iterable[str]) -> str:
    """The set of drafts a call produced (its ids, sorted): the draft -> call link."""
    return content_hash(sorted(draft_ids))


def call_hash(fields: Mapping[str, Any]) -> str:
    """A generation call's row as stored (params and dropped as their JSON text), including
    its drafts_hash."""
    return content_hash({name: fields[name] for name in CALL_FIELDS})


def lease_hash(fields: Mapping[str, Any]) -> str:
    return content_hash({name: fields[name] for name in LEASE_FIELDS})


class ExportHasher:
    """export_hash built a record at a time, so verify() can hash every export in one pass over
    export_records."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
        self._digest.update(canonical_json({name: fields[name] for name in EXPORT_FIELDS}))

    def add(self, record: Sequence[str]) -> None:
        self.add_line("\n" + "\t".join(record))

    def add_line(self, line: str) -> None:
        """A record as ``add`` writes it: newline, then its fields joined by tabs."""
        self._digest.update(line.encode("utf-8"))

    def hexdigest(self) -> str:
        return HASH_PREFIX + self._digest.hexdigest()


def export_hash(fields: Mapping[str, Any], records: Iterable[Sequence[str]]) -> str:
    """An export's row and its record rows (draft_id, record_hash, decision_id, split), in the
    order they were written (export_records rowid order)."""
    hasher = ExportHasher(fields)
    for record in records:
        hasher.add(record)
    return hasher.hexdigest()


class ProvenanceHasher:
    """One hash over where an export's records came from, in manifest order: for each record
    its draft, the generation call's call_hash, its chunk and its document's path. The export
    writes it into its manifest; the audit recomputes it from the ledger. It anchors the
    generation provenance outside the ledger, as the chain head anchors the decisions: a call
    edited and re-hashed in the ledger no longer matches what left with the export."""

    def __init__(self) -> None:
        self._digest = hashlib.blake2b(digest_size=DIGEST_BYTES)

    def add(self, draft_id: str, call_hash_: str | None, chunk_id: str, document: str) -> None:
        line = f"\n{draft_id}\t{call_hash_}\t{chunk_id}\t{document}"
        self._digest.update(line.encode("utf-8"))

    def hexdigest(self) -> str:
        return HASH_PREFIX + self._digest.hexdigest()
