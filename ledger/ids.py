"""Identities: content hashes for content, ULIDs for events.

A content id is blake2b over the RFC 8785 canonical JSON of a value, prefixed with the
algorithm (``b2:``) so a future change of algorithm is visible in the id itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785
from ulid import ULID

HASH_PREFIX = "b2:"
# 16-byte digests: collisions are out of reach for a ledger of any realistic size and ids stay
# short enough to read in the TUI and the audit report.
DIGEST_BYTES = 16


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON: the same value always gives the same bytes."""
    return rfc8785.dumps(value)


def hash_bytes(data: bytes) -> str:
    return HASH_PREFIX + hashlib.blake2b(data, digest_size=DIGEST_BYTES).hexdigest()


def content_hash(value: Any) -> str:
    """The id of a piece of content: blake2b of its canonical JSON."""
    return hash_bytes(canonical_json(value))


def text_hash(text: str) -> str:
    return hash_bytes(text.encode("utf-8"))


def new_event_id() -> str:
    """A sortable, unique id for an event (a call, a decision, an export)."""
    return str(ULID())
