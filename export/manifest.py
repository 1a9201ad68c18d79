"""The manifest beside every export: its name, version and the hash of a file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from export.layout import LAYOUT_VERSION
from ledger.ids import DIGEST_BYTES, HASH_PREFIX

MANIFEST_NAME = "manifest.json"
# The manifest's version is the folder's layout (export.layout).
MANIFEST_VERSION = LAYOUT_VERSION


def file_hash(path: Path) -> str:
    """blake2b of a file's bytes, read in blocks."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return HASH_PREFIX + digest.hexdigest()
