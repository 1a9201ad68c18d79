"""API key leaks: the suite's trials, proof that the scan finds a planted key, and the
batch error redaction it found missing."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from draftgate.exit_codes import ExitCode
from tests.reliability import key_leaks
from tests.reliability.generate_harness import fresh_ledger, ingested_template
from tests.reliability.generate_harness import write_config as write_harness_config
from tests.reliability.outcome import Outcome
from tests.support.fake_openai import ChatRequest, Reply, default_script, running
from tests.support.generate_env import API_KEY, GenerateRun, ingested_ledger, write_config

SEED = 1


def test_the_key_is_nowhere_after_every_command_with_verbose_logging(tmp_path: Path) -> None:
    outcome = key_leaks.run(key_leaks.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == key_leaks.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def test_the_scan_finds_a_planted_key_and_a_piece_of_one_with_their_offsets(
    tmp_path: Path,
) -> None:
    """Negative control: the key planted in a written file, its last 8 characters in the
    raw bytes of a binary file, and a clean file beside them."""
    key = key_leaks.make_key(random.Random(0))
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "train.jsonl").write_text(f'{{"note": "{key}"}}\n')
    (tmp_path / "ledger.sqlite-wal").write_bytes(b"\x00" * 100 + key[-8:].encode() + b"\x01")
    (tmp_path / "clean.md").write_text("nothing to see")
    scan = key_leaks.Scan(key_leaks.key_pattern(key))
    assert scan.folder(tmp_path) == 3
    assert set(scan.found) == {"outputs/train.jsonl", "ledger.sqlite-wal"}
    assert scan.found["outputs/train.jsonl"].startswith("offset 10 ")
    assert scan.found["ledger.sqlite-wal"].startswith("offset 100 ")
    scan.text_of("stderr of generate", f"Authorization: Bearer {key[:-3]}")
    assert "stderr of generate" in scan.found  # a truncated key still has its pieces


def test_base_url_credentials_are_found_when_redaction_lets_them_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: the real credentials steps with the URL redaction switched off (no
    userinfo or query patterns, nothing remembered): the scan finds the user, password or
    token in the -v stderr of the in-process runs."""
    import draftgate.logs
    import generator.client
    import generator.redact

    never = re.compile(r"(?!)(a)(b)")  # matches nothing; has the groups the patterns use
    monkeypatch.setattr(generator.redact, "_USERINFO", never)
    monkeypatch.setattr(generator.redact, "_SECRET_QUERY", never)
    monkeypatch.setattr(generator.redact, "_SCHEME_VALUE", never)
    monkeypatch.setattr(generator.client, "remember_url_secrets", lambda url: None)
    monkeypatch.setattr(draftgate.logs, "secrets_in_url", lambda url: set())
    key = key_leaks.make_key(random.Random(5))
    creds = key_leaks.UrlCredentials.draw(random.Random(6))
    template = ingested_template(tmp_path)
    folder = tmp_path / "trial"
    folder.mkdir()
    trial = key_leaks.Trial(
        key=key,
        folder=folder,
        config=write_harness_config(folder, timeout=5.0, attempts=2, reasks=1),
        env={"OPENAI_API_KEY": key},
        outcome=Outcome("control"),
        where="control",
        scan=key_leaks.Scan(key_leaks.key_pattern(key, *creds.secrets)),
        creds=creds,
    )
    ledgers = {
        name: fresh_ledger(template, folder / "outputs" / name) for name in key_leaks.CREDS_LEDGERS
    }
    with running() as server:
        key_leaks.credentials_in_the_base_url(trial, ledgers, server, in_process_only=True)
    assert "stderr of generate (credentials in OPENAI_BASE_URL)" in trial.scan.found, (
        trial.scan.found
    )
    assert "stderr of generate (credentials, connection refused)" in trial.scan.found


def test_a_batch_error_body_that_echoes_the_key_is_stored_redacted(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by this category: a failed batch line's error body went into the ledger as-is."""

    def script(request: ChatRequest) -> Reply:
        if "Draft kind: qa" in request.all_text:
            return Reply(status=500, error_message=f"bad key {API_KEY}")
        return default_script(request)

    with running(script) as server:
        ledger_path = ingested_ledger(tmp_path, tmp_path_factory)
        generate = GenerateRun(ledger_path, write_config(tmp_path), server, monkeypatch)
        assert generate("--batch", "--limit", "2") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        (failed,) = [c for c in ledger.generation_calls() if c.status == "failed"]
    assert failed.error is not None and "[redacted]" in failed.error
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(ledger_path) + suffix)
        if path.exists():
            assert API_KEY.encode() not in path.read_bytes()
