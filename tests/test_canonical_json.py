"""The fast path of canonical_json writes exactly the bytes RFC 8785 prescribes."""

from __future__ import annotations

import random

import pytest
import rfc8785

from ledger.ids import canonical_json

TRICKY_STRINGS = [
    "", "plain", 'quote " backslash \\ slash /', "\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f",
    "é ü ß 日本語", "🚀 emoji", "\u2028\u2029", "\ufeffbom", "<>&'", "\ud7ff\ue000\uffff",
]  # fmt: skip
TRICKY_NUMBERS = [
    0, 1, -1, 2**53 - 1, -(2**53 - 1), 2**53, 10**20, 0.0, -0.0, 1.0, -3.0, 0.1, 0.5, 0.0001,
    0.00012345, 0.9999, 1e-5, 1e-7, 123456789.125, 1e15 + 0.5, 1e16, 1e21, 5e-324, 1.7e308,
    0.30000000000000004,
]  # fmt: skip


def _random_value(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(8 if depth < 3 else 5)
    if choice == 0:
        return rng.choice(TRICKY_STRINGS) + str(rng.random())
    if choice == 1:
        return rng.choice(TRICKY_NUMBERS)
    if choice == 2:
        return rng.choice([True, False, None])
    if choice == 3:
        return round(rng.random(), rng.randrange(1, 6))
    if choice == 4:
        return rng.randrange(-(10**6), 10**6)
    if choice == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["a", "b", "seq", "Z", "_", "é", "😀", "\ufb01", "aa", "id"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def same_as_rfc8785(value: object) -> bool:
    """Equal bytes, or the same refusal (RFC 8785 rejects integers beyond 2**53)."""
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        with pytest.raises(type(exc)):
            canonical_json(value)
        return True
    return canonical_json(value) == expected


@pytest.mark.parametrize("value", TRICKY_STRINGS + TRICKY_NUMBERS)
def test_scalars_match_rfc8785(value: object) -> None:
    assert same_as_rfc8785(value)
    assert same_as_rfc8785({"v": value, "list": [value]})
    assert same_as_rfc8785({"v": value, "w": 1.5})  # a flat object: the one-loop path


def test_random_values_match_rfc8785() -> None:
    rng = random.Random(8785)
    for _ in range(5000):
        value = _random_value(rng)
        assert same_as_rfc8785(value), value


def test_a_decision_payload_matches_rfc8785() -> None:
    payload = {
        "seq": 12, "id": "01M80R47JFRC1BXZ7PDR1MAM20", "draft_id": "b2:00ff", "reviewer": "Zoë",
        "verdict": "edit", "final_question": "Q?\n", "final_answer": "A — “quoted”.",
        "reason": None, "note": None, "reverts_decision_id": None, "shown_at": None,
        "decided_at": "2026-11-22T04:27:14.385Z", "dwell_ms": 1520, "edit_distance": 0.1234,
        "double_review": False, "prev_hash": "b2:genesis",
    }  # fmt: skip
    assert canonical_json(payload) == rfc8785.dumps(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"evidence": ["é", "😀 quote", ""], "meta": {}, "edit_distance": 1.0},
        {"evidence": [], "meta": {}, "kind": "qa", "subtype": None},
        {"evidence": ["a", 1.5], "meta": {}},  # not all strings: the general path
        {"evidence": ["a"], "meta": {"é": 1}},  # a non-empty object: the general path
        {"evidence": ["a"], "x": 1e20},
    ],
)
def test_flat_objects_with_lists_match_rfc8785(payload: dict[str, object]) -> None:
    assert same_as_rfc8785(payload)
