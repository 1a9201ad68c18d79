"""Reviewer tokens: the config holds a hash of each reviewer's token, never the token itself,
so a committed ``draftgate.toml`` signs no one in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

TOKEN_HASH_PREFIX = "sha256:"
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe): long enough that a fast hash is enough."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The form ``[serve.reviewers]`` stores: ``sha256:`` and the hex digest."""
    return TOKEN_HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


class ReviewerTokens:
    """Which reviewer a token signs in, by its hash. Names are the ledger's stored spelling."""

    def __init__(self, hashes_by_name: Mapping[str, str]) -> None:
        self._names_by_hash = {digest: name for name, digest in hashes_by_name.items()}
        if len(self._names_by_hash) != len(hashes_by_name):
            raise ValueError("two reviewers have the same token hash")

    def __bool__(self) -> bool:
        return bool(self._names_by_hash)

    def names(self) -> list[str]:
        return sorted(self._names_by_hash.values())

    def reviewer_for(self, token: str) -> str | None:
        """The reviewer ``token`` belongs to, or None. Every stored hash is compared in
        constant time, so the time taken tells nothing about which one came close."""
        offered = token_hash(token.strip())
        found: str | None = None
        for digest, name in self._names_by_hash.items():
            if hmac.compare_digest(offered, digest):
                found = name
        return found
