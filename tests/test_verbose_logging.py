"""``draftgate --verbose``: DEBUG logging on stderr, with every API key taken out of it."""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from draftgate.cli import main
from draftgate.logs import RedactSecrets, configure_logging
from generator.client import ClientSettings, LLMClient
from generator.redact import redact
from ledger import Ledger

KEY = "sk-dgtest-Verbose0123456789abcdef"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    configure_logging(verbose=False)


def _record(msg: str, *args: object, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("openai", logging.DEBUG, __file__, 1, msg, args, exc_info)


def test_the_filter_takes_the_key_out_of_message_arguments_and_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    record = _record("headers %s sent with %r", {"Authorization": f"Bearer {KEY}"}, KEY)
    assert RedactSecrets().filter(record)
    text = record.getMessage()
    assert KEY not in text and KEY[-8:] not in text and "[redacted]" in text
    try:
        raise RuntimeError(f"401 Incorrect API key provided: {KEY}")
    except RuntimeError:
        failed = _record("call failed", exc_info=sys.exc_info())
    RedactSecrets().filter(failed)
    assert failed.exc_text and "RuntimeError" in failed.exc_text
    assert KEY[-8:] not in logging.Formatter().format(failed)


def test_redact_removes_authorization_values_however_they_are_printed() -> None:
    for text in (
        "Authorization: Bearer abcdefgh12345678",
        "{'authorization': 'abcdefgh12345678'}",
        '"api-key": "abcdefgh12345678"',
    ):
        assert "abcdefgh12345678" not in redact(text), text
    assert redact("a bearer token is needed") == "a bearer token is needed"


def test_redact_removes_url_userinfo_secret_query_values_and_basic_credentials() -> None:
    for text, secret in (
        ("GET http://admin:hunter2hunter@10.0.0.5:8080/v1/models", "hunter2hunter"),
        ("for url 'https://svc-user:p%40ss-word9@llm.example/v1'", "p%40ss-word9"),
        ("POST http://h/v1?api_key=QUERYSECRET1&x=1", "QUERYSECRET1"),
        ("POST http://h/v1?token=TOKENSECRET2/chat/completions", "TOKENSECRET2"),
        ("http://h/v1?a=1&access_token=TOKENSECRET3", "TOKENSECRET3"),
        ("'authorization': 'Basic YWRtaW46aHVudGVyMg=='", "YWRtaW46aHVudGVyMg"),
    ):
        assert secret not in redact(text), text
    kept = "GET http://127.0.0.1:8080/v1/models?limit=20 (see user@example.com)"
    assert redact(kept) == kept  # no userinfo, no secret-named parameter


def test_the_base_url_in_use_loses_its_password_and_every_query_value_however_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Remembered from OPENAI_BASE_URL: a parameter name that says nothing (``?x=``), the
    percent-decoded password, and the Basic header value httpx makes from the userinfo."""
    url = "http://dgops:Pa%24%24-Remembered7@127.0.0.1:9/v1?x=OpaqueQueryValue9"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    basic = base64.b64encode(b"dgops:Pa$$-Remembered7").decode()
    record = _record(
        "sent %s to %s; password %s; x was %s",
        {"authorization": f"Basic {basic}"},
        url,
        "Pa$$-Remembered7",
        "OpaqueQueryValue9",
    )
    assert RedactSecrets().filter(record)
    text = record.getMessage()
    for secret in ("Remembered7", "OpaqueQueryValue9", basic[:12], "dgops:"):
        assert secret not in text, (secret, text)
    assert "127.0.0.1:9" in text  # the host stays: it is what a reader needs


def test_calls_record_only_the_host_of_a_base_url_with_credentials() -> None:
    settings = ClientSettings(
        base_url="http://admin:pass-word-1@127.0.0.1:8080/v1?token=HostOnlyToken1",
        api_key=None,
        model="m",
    )
    assert settings.endpoint_host == "127.0.0.1:8080"
    LLMClient(settings)  # remembers the URL's credentials for every later redact()
    assert redact("echoed HostOnlyToken1 and pass-word-1") == "echoed [redacted] and [redacted]"


def test_verbose_flag_turns_on_debug_logging_with_the_key_redacted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ledger = str(tmp_path / "ledger.sqlite")
    Ledger.open(ledger).close()
    assert main(["-v", "--ledger", ledger, "status"]) == 0
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    logging.getLogger("httpx").debug("sending Authorization: Bearer %s", KEY)
    err = capsys.readouterr().err
    assert "DEBUG httpx: sending Authorization: Bearer [redacted]" in err
    assert KEY[-8:] not in err
    # Without the flag, debug records are not shown, and the level goes back down.
    assert main(["--ledger", ledger, "status", "--verbose"]) == 0  # after the command too
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    assert main(["--ledger", ledger, "status"]) == 0
    logging.getLogger("httpx").debug("quiet now")
    assert "quiet now" not in capsys.readouterr().err


def test_openai_log_debug_without_verbose_goes_through_the_same_filter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """OPENAI_LOG=debug turns openai's and httpx's loggers up by itself; their records reach
    Draftgate's handler (timestamped, as openai would print them) and lose the key there."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_LOG", "debug")
    configure_logging(verbose=False)
    openai_logger = logging.getLogger("openai")
    monkeypatch.setattr(openai_logger, "level", logging.DEBUG)
    openai_logger.debug("Request options: %s", {"headers": {"Authorization": f"Bearer {KEY}"}})
    err = capsys.readouterr().err
    assert " DEBUG openai: Request options: " in err and "Bearer [redacted]" in err
    assert KEY[-8:] not in err
