"""Logging for every command: ``--verbose`` shows DEBUG records (Draftgate's, and those of
openai, httpx, httpcore, instructor) on stderr, and every record, verbose or not, passes one
filter that takes API keys, Authorization values and the credentials of a base URL (userinfo,
query secrets) out before it is written.

The handler is installed on the root logger whatever the verbosity, so records that a library
turns on by itself (``OPENAI_LOG=debug`` makes openai and httpx log at DEBUG) come through the
same filter too: openai's own ``basicConfig`` does nothing once the root logger has a handler.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from generator.redact import redact, secrets_in_url

# Environment variables whose values are secrets: their values are taken out of every record.
SECRET_ENV_VARS = ("OPENAI_API_KEY",)
# Environment variables holding a URL whose userinfo and query values are secrets.
SECRET_URL_ENV_VARS = ("OPENAI_BASE_URL",)
VERBOSE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Rewrites a record's message, traceback and stack with every secret removed.

    The message is formatted here (``msg % args``) so a key passed as an argument is caught;
    the record leaves with the redacted text and no arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        secrets: list[str | None] = [os.environ.get(name) for name in SECRET_ENV_VARS]
        for name in SECRET_URL_ENV_VARS:
            in_url: list[str] = sorted(secrets_in_url(os.environ.get(name)), key=len, reverse=True)
            secrets.extend(in_url)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call must not stop the command
            message = f"{record.msg} {record.args}"
        message = _redact_all(message, secrets)
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact_all(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = _redact_all(record.stack_info, secrets)
        return True


def _redact_all(text: str, secrets: list[str | None]) -> str:
    for secret in secrets:
        text = redact(text, secret)
    return redact(text)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (tests and the TUI swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_handler: _StderrHandler | None = None


def configure_logging(verbose: bool) -> None:
    """Install the one stderr handler (once per process) and set the root level."""
    global _handler
    root = logging.getLogger()
    if _handler is None:
        _handler = _StderrHandler()
        _handler.addFilter(RedactSecrets())
        root.addHandler(_handler)
    # Quiet runs print warnings the way Python does by default (the bare message); openai's
    # own OPENAI_LOG=debug|info gets the timestamped lines it would have set up itself.
    detailed = verbose or bool(os.environ.get("OPENAI_LOG"))
    _handler.setFormatter(logging.Formatter(VERBOSE_FORMAT if detailed else "%(message)s"))
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
