"""The manifest beside every export: its name, version and the hash of a file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from export.records import SPLITS
from ledger.ids import DIGEST_BYTES, HASH_PREFIX

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def split_of_file(name: str) -> str | None:
    stem = name.split(".", 1)[0]
    return stem if stem in SPLITS else None


def file_hash(path: Path) -> str:
    """blake2b of a file's bytes, read in blocks."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return HASH_PREFIX + digest.hexdigest()
