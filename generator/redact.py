"""Removing API keys from text that Draftgate writes: the ledger's error column and every log
record (``draftgate --verbose`` runs all log records through ``redact``).

Light on purpose (no openai import): the CLI's logging set-up uses it before any command runs.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# Anything shaped like a key: OpenAI-style ``sk-...`` (including the partly masked form some
# providers echo in a 401 message, ``sk-proj-****abcd``), ``pk-``/``key-`` prefixes.
_KEY_LIKE = re.compile(r"\b(sk|pk|key)[-_][A-Za-z0-9_\-*.]{6,}")
# An Authorization header value however it is printed: ``Bearer xyz``, ``'authorization':
# 'xyz'``, ``api-key: xyz`` (Azure's header). Eight characters at least, so prose such as
# "bearer token" stays readable; the key itself is also replaced by value.
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s'\",;)}\]]{8,}")
_AUTH_HEADER = re.compile(
    r"(?i)([\"']?\b(?:authorization|api-key|x-api-key)[\"']?\s*[:=]\s*[\"']?)"
    r"(?!bearer\b)[^\s'\",;)}\]]{8,}"
)


def redact(text: str, secret: str | None = None) -> str:
    """``text`` without ``secret``, without any Authorization value and without anything
    shaped like a key."""
    if secret:
        text = text.replace(secret, REDACTED)
    text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    text = _AUTH_HEADER.sub(rf"\1{REDACTED}", text)
    return _KEY_LIKE.sub(REDACTED, text)
