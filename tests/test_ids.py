"""Content hashes are stable (across runs and processes) and key-order blind; ULIDs sort."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from ulid import ULID

from ledger.ids import HASH_PREFIX, canonical_json, content_hash, new_event_id, text_hash
from tests.support.builders import REPO_ROOT

# Fixed values: if one of these changes, every id in every existing ledger changes with it.
KNOWN_CONTENT_HASHES = [
    ({"a": 1, "b": [1, 2, "x"], "c": None}, "b2:41ccb712af5992052de9fb946635811c"),
    ("Tidepool", "b2:fb8637d6371ceb6858e8aff4da688142"),
    ({"q": "Wie geht's? ✓", "n": 1.5}, "b2:6e53c76a0aad2080ed9249ee722c0759"),
]


def test_content_hashes_match_fixed_values() -> None:
    for value, expected in KNOWN_CONTENT_HASHES:
        assert content_hash(value) == expected
    assert text_hash("hello\n") == "b2:ea41b4de6c03f13a95758b28dd75693e"


def test_content_hash_is_blake2b_of_canonical_json() -> None:
    value = {"b": 1, "a": {"d": 2, "c": 3}}
    assert canonical_json(value) == b'{"a":{"c":3,"d":2},"b":1}'
    digest = hashlib.blake2b(canonical_json(value), digest_size=16).hexdigest()
    assert content_hash(value) == HASH_PREFIX + digest


def test_content_hash_is_the_same_in_another_process() -> None:
    # A fresh interpreter has a different str hash seed: nothing may depend on it.
    script = (
        "import json, sys\n"
        "from ledger.ids import content_hash\n"
        "print(json.dumps([content_hash(v) for v in json.loads(sys.stdin.read())]))\n"
    )
    values = [value for value, _ in KNOWN_CONTENT_HASHES]
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": "12345"},
        check=True,
    )
    assert json.loads(result.stdout) == [expected for _, expected in KNOWN_CONTENT_HASHES]


def test_key_order_does_not_change_the_hash() -> None:
    first = {"question": "Q", "answer": "A", "meta": {"x": 1, "y": [1, {"b": 2, "a": 1}]}}
    second = {"meta": {"y": [1, {"a": 1, "b": 2}], "x": 1}, "answer": "A", "question": "Q"}
    assert content_hash(first) == content_hash(second)
    # ...but list order and values do.
    assert content_hash({"l": [1, 2]}) != content_hash({"l": [2, 1]})
    assert content_hash({"a": "1"}) != content_hash({"a": 1})


def test_event_ids_are_ulids_that_sort_in_creation_order() -> None:
    ids = [new_event_id() for _ in range(2000)]  # many share a millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)
    assert str(ULID.from_str(ids[0])) == ids[0]


def test_draft_origin_reads_the_drafter() -> None:
    from ledger import DraftOrigin, draft_origin

    assert draft_origin("llm") is DraftOrigin.GENERATE
    assert draft_origin("rules/1") is DraftOrigin.GENERATE
    assert draft_origin("probe") is DraftOrigin.PROBE
    assert draft_origin("import") is DraftOrigin.IMPORT
