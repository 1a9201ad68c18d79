"""Identities: content hashes for content, ULIDs for events.

A content id is blake2b over the RFC 8785 canonical JSON of a value, prefixed with the
algorithm (``b2:``) so a future change of algorithm is visible in the id itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

HASH_PREFIX = "b2:"
# 16-byte digests: collisions are out of reach for a ledger of any realistic size and ids stay
# short enough to read in the TUI and the audit report.
DIGEST_BYTES = 16


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON: the same value always gives the same bytes.

    Values made only of ASCII-keyed objects, lists, strings, booleans, null, safe integers and
    floats whose shortest form is the same in Python and RFC 8785 are written by the C JSON
    encoder (sorted keys, no whitespace, no ASCII escaping), which yields the very same bytes
    several times faster; anything else goes through ``rfc8785``. Verify and the audit hash
    every stored record, so this is what keeps them fast at 100k records. A test compares
    both paths over a wide sample of values.
    """
    if type(value) is dict:
        flat = _flat_safe(value)
        if flat is not None:
            return _ENCODER.encode(flat).encode("utf-8")
    if _is_plain(value):
        return _ENCODER.encode(value).encode("utf-8")
    simple = _json_safe(value)
    if simple is not _NOT_SIMPLE:
        return _ENCODER.encode(simple).encode("utf-8")
    return rfc8785.dumps(value)


# One encoder for every call: json.dumps with non-default options builds a new one each time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_NOT_SIMPLE = object()
_MAX_SAFE_INT = 2**53 - 1
# Exact types, not isinstance: a bool is an int, and subclasses (enums) need the slow path's care.
_PLAIN_LEAF_TYPES = frozenset({str, bool, type(None)})


def _flat_safe(value: dict[Any, Any]) -> dict[Any, Any] | None:
    """``_json_safe(value)`` for a flat object: ASCII keys, and values that are str, None,
    bool, int, float, a list of strings or an empty object. One loop, no call per value.
    None for anything else, or when the result would be _NOT_SIMPLE (the general path then
    decides). Stored rows are this shape: a decision (its float edit_distance), a call, a
    lease, a draft (its evidence list and, mostly, empty meta)."""
    out = value
    for key, item in value.items():
        if type(key) is not str or not key.isascii():
            return None
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return None
            continue
        if kind is list:
            # A list of strings (a draft's evidence) is written as it is.
            for element in item:
                if type(element) is not str:
                    return None
            continue
        if kind is dict and not item:
            continue  # an empty object (a draft's meta, mostly)
        if kind is not float:
            return None
        if item.is_integer() and abs(item) <= _MAX_SAFE_INT:
            safe: int | float = int(item)  # as _json_safe: 1.0 is written 1, -0.0 is 0
        elif 1e-4 <= abs(item) < 1e16:
            continue
        else:
            return None
        if out is value:
            out = dict(value)
        out[key] = safe
    return out


def _is_plain(value: Any) -> bool:
    """True when the encoder can write ``value`` as it is: no floats, no huge ints, ASCII keys.

    This is the shape of nearly every stored record (decisions, drafts, chunks), so it is
    checked first without building a copy; anything else goes through ``_json_safe``.
    """
    kind = type(value)
    if kind in _PLAIN_LEAF_TYPES:
        return True
    if kind is int:
        in_range: bool = -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
        return in_range
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) not in _PLAIN_LEAF_TYPES and not _is_plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _PLAIN_LEAF_TYPES and not _is_plain(item):
                return False
        return True
    return False


def _json_safe(value: Any) -> Any:
    """``value`` with integral floats made ints, or _NOT_SIMPLE when the fast path could
    differ from RFC 8785 (non-ASCII keys, huge ints, floats Python and RFC 8785 print apart)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else _NOT_SIMPLE
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= _MAX_SAFE_INT:
            return int(value)  # RFC 8785 writes 1.0 as 1 and -0.0 as 0
        # Both print the shortest round-trip digits; in this range both use plain notation.
        return value if 1e-4 <= abs(value) < 1e16 else _NOT_SIMPLE
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                return _NOT_SIMPLE  # RFC 8785 sorts keys by UTF-16 units, Python by code point
            safe = _json_safe(item)
            if safe is _NOT_SIMPLE:
                return _NOT_SIMPLE
            out[key] = safe
        return out
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            safe = _json_safe(item)
            if safe is _NOT_SIMPLE:
                return _NOT_SIMPLE
            items.append(safe)
        return items
    return _NOT_SIMPLE


def hash_bytes(data: bytes) -> str:
    return HASH_PREFIX + hashlib.blake2b(data, digest_size=DIGEST_BYTES).hexdigest()


def content_hash(value: Any) -> str:
    """The id of a piece of content: blake2b of its canonical JSON."""
    return hash_bytes(canonical_json(value))


def text_hash(text: str) -> str:
    return hash_bytes(text.encode("utf-8"))


def new_event_id() -> str:
    """A sortable, unique id for an event (a call, a decision, an export)."""
    # Imported on first use: the CLI's read-only commands never make an event id, and
    # the package costs a noticeable share of their start-up.
    from ulid import ULID

    return str(ULID())
