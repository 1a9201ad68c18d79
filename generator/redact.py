"""Removing secrets from text that Draftgate writes: the ledger's error column and every log
record (``draftgate --verbose`` runs all log records through ``redact``).

Secrets are API keys, Authorization values (Bearer, Basic, ``api-key`` headers), and the
credentials a base URL can carry: its userinfo (``http://user:password@host``) and its query
string (``?token=...``). URLs in text lose their userinfo and the values of query parameters
whose names say secret; the base URL in use is remembered (``remember_url_secrets``) so its
password and every query value are removed wherever they appear, however printed.

Light on purpose (no openai import): the CLI's logging set-up uses it before any command runs.
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "[redacted]"
# A remembered secret shorter than this is left to the patterns: replacing a 3-letter
# password everywhere would make every log line unreadable and still say where it was.
MIN_SECRET_CHARS = 4

# Anything shaped like a key: OpenAI-style ``sk-...`` (including the partly masked form some
# providers echo in a 401 message, ``sk-proj-****abcd``), ``pk-``/``key-`` prefixes.
_KEY_LIKE = re.compile(r"\b(sk|pk|key)[-_][A-Za-z0-9_\-*.]{6,}")
# An Authorization header value however it is printed: ``Bearer xyz``, ``Basic xyz``,
# ``'authorization': 'xyz'``, ``api-key: xyz`` (Azure's header). Eight characters at least, so
# prose such as "bearer token" stays readable; the key itself is also replaced by value.
_SCHEME_VALUE = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s'\",;)}\]]{8,}")
_AUTH_HEADER = re.compile(
    r"(?i)([\"']?\b(?:authorization|api-key|x-api-key)[\"']?\s*[:=]\s*[\"']?)"
    r"(?!bearer\b|basic\b)[^\s'\",;)}\]]{8,}"
)
# A URL's userinfo: everything between "scheme://" and the last "@" before the host ends.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s?#'\"<>]*@")
# A query parameter whose name says it holds a secret; its value ends at the next parameter.
_SECRET_QUERY = re.compile(
    r"(?i)([?&;][\w.\-]*?(?:token|key|secret|password|passwd|pwd|auth|signature|sig|"
    r"credential|session|code)[\w.\-]*=)[^&#\s'\"<>]+"
)

_remembered: set[str] = set()
_remembered_lock = threading.Lock()


def secrets_in_url(url: str | None) -> set[str]:
    """The credentials ``url`` carries, in every form a library may print them: the password
    and ``user:password`` (raw and percent-decoded), the Basic header value made from them,
    and every query value (raw and decoded). Only pieces of ``MIN_SECRET_CHARS`` or more."""
    if not url:
        return set()
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return set()
    found: set[str] = set()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        user, _, password = userinfo.partition(":")
        for raw in {userinfo, unquote(userinfo)}:
            found.add(raw)
            found.add(base64.b64encode(raw.encode("utf-8")).decode("ascii"))
        found.update({password, unquote(password)})
        if not password:
            found.update({user, unquote(user)})
    for _name, value in parse_qsl(parts.query, keep_blank_values=True):
        found.update({value, unquote(value)})
    for raw_pair in re.split(r"[&;]", parts.query):
        found.add(raw_pair.partition("=")[2])
    return {piece for piece in found if len(piece) >= MIN_SECRET_CHARS}


def remember_url_secrets(url: str | None) -> None:
    """Remove ``url``'s credentials from everything ``redact`` sees from now on (the base URL
    of the endpoint in use: it may come from a config file the log filter cannot read)."""
    pieces = secrets_in_url(url)
    if pieces:
        with _remembered_lock:
            _remembered.update(pieces)


def redact(text: str, secret: str | None = None) -> str:
    """``text`` without ``secret``, without remembered URL credentials, without any
    Authorization value, URL userinfo or secret query value, and without anything shaped
    like a key."""
    if secret:
        text = text.replace(secret, REDACTED)
    with _remembered_lock:
        remembered = sorted(_remembered, key=len, reverse=True)
    for piece in remembered:
        text = text.replace(piece, REDACTED)
    text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _SECRET_QUERY.sub(rf"\1{REDACTED}", text)
    text = _SCHEME_VALUE.sub(rf"\1\2{REDACTED}", text)
    text = _AUTH_HEADER.sub(rf"\1{REDACTED}", text)
    return _KEY_LIKE.sub(REDACTED, text)
