"""Job claims in the ledger: who holds a job, what a claim passes over, how claims end."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.job_claims import this_host
from tests.support.builders import add_document, add_failed_call, generation_call


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        yield opened


KEYS = [f"b2:job{i}" for i in range(10)]


def test_a_claim_passes_over_jobs_another_run_holds(ledger: Ledger) -> None:
    first = ledger.claim_jobs("run-a", KEYS, want=3, ttl_s=60)
    assert first.claimed == KEYS[:3] and first.examined == 3
    second = ledger.claim_jobs("run-b", KEYS, want=3, ttl_s=60)
    assert second.held_elsewhere == KEYS[:3]
    assert second.claimed == KEYS[3:6]
    assert second.examined == 6
    assert ledger.job_claim_holders(KEYS[:7]) == {
        **dict.fromkeys(KEYS[:3], "run-a"),
        **dict.fromkeys(KEYS[3:6], "run-b"),
    }
    # A run's own claims are its to take again (a second look at its own plan).
    assert ledger.claim_jobs("run-a", KEYS[:3], want=3, ttl_s=60).claimed == KEYS[:3]


def test_finished_jobs_are_passed_over_and_failed_ones_taken(ledger: Ledger) -> None:
    chunk = add_document(ledger)[0]
    ledger.record_call(generation_call(chunk, job_key=KEYS[0], requested=0), [])
    add_failed_call(ledger, chunk)  # a failed call leaves its job to be tried again
    failed_key = ledger.generation_calls()[-1].job_key
    outcome = ledger.claim_jobs("run-a", [KEYS[0], failed_key, KEYS[1]], want=5, ttl_s=60)
    assert outcome.finished == [KEYS[0]]
    assert outcome.claimed == [failed_key, KEYS[1]]


def test_expired_and_released_claims_can_be_taken(ledger: Ledger) -> None:
    # A claim with no lifetime has run out the moment it is made: no waiting on the clock
    # (a lifetime shorter than the stored timestamps' millisecond could still look live).
    ledger.claim_jobs("run-a", KEYS[:2], want=2, ttl_s=0)
    ledger.claim_jobs("run-a", KEYS[2:4], want=2, ttl_s=60)
    assert ledger.release_job_claims("run-a", KEYS[2:4]) == 2
    # The expired and the given-back claims count for nothing; all four can be taken.
    taken = ledger.claim_jobs("run-b", KEYS[:4], want=4, ttl_s=60)
    assert taken.claimed == KEYS[:4]
    # run-a's claims ran out and run-b took the jobs: renewing them leaves them to run-b.
    assert ledger.renew_job_claims("run-a", KEYS[:2], 60) == KEYS[:2]
    assert ledger.job_claim_holders(KEYS[:2]) == dict.fromkeys(KEYS[:2], "run-b")
    assert ledger.renew_job_claims("run-b", KEYS[:2], 60) == []


def _insert_claim(path: str, key: str, host: str, pid: int) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "INSERT INTO job_claims(job_key, run_id, host, pid, claimed_at, expires_at)"
            " VALUES (?, 'gone-run', ?, ?, '2026-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z')",
            (key, host, pid),
        )
    db.close()


def test_a_claim_of_a_process_gone_from_this_host_counts_for_nothing(ledger: Ledger) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone_pid = int(ended.stdout)
    _insert_claim(ledger.path, KEYS[0], this_host(), gone_pid)
    # The same pid on another host may be alive there: only the expiry ends that claim.
    _insert_claim(ledger.path, KEYS[1], "another-host", gone_pid)
    assert ledger.job_claim_holders(KEYS[:2]) == {KEYS[1]: "gone-run"}
    assert ledger.claim_jobs("run-b", KEYS[:2], want=2, ttl_s=60).claimed == [KEYS[0]]


def test_claim_rows_are_append_only(ledger: Ledger) -> None:
    ledger.claim_jobs("run-a", KEYS[:1], want=1, ttl_s=60)
    db = sqlite3.connect(ledger.path)
    for sql in ("UPDATE job_claims SET run_id = 'x'", "DELETE FROM job_claims"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()


def test_workers_split_the_calls_in_flight_and_the_budgets() -> None:
    from generator.settings import GenerateSettings
    from generator.workers import worker_settings

    settings = GenerateSettings(concurrency=10, rpm=7, base_url="http://127.0.0.1:1/v1")
    parts = worker_settings(settings, 3)
    assert [p.concurrency for p in parts] == [4, 3, 3]
    assert [p.rpm for p in parts] == [3, 2, 2]
    assert [p.tpm for p in parts] == [None, None, None]


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--workers", "3", "--concurrency", "2"], True, "needs --concurrency of at least 3"),
        (["--workers", "2"], False, "needs an LLM endpoint"),
        (["--workers", "2", "--batch"], True, "--batch sends one batch"),
        (["--workers", "0"], True, "at least 1"),
    ],
)
def test_workers_refuse_what_they_cannot_run_in_one_line(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: bool,
    said: str,
) -> None:
    from draftgate.cli import main
    from draftgate.exit_codes import ExitCode
    from tests.support.generate_env import ingested_ledger, write_config

    path = ingested_ledger(tmp_path, tmp_path_factory)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    if env:
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    config = write_config(tmp_path)
    code = main(["--ledger", str(path), "--config", str(config), "generate", "--quiet", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.BAD_INPUT
    assert len(err) == 1 and said in err[0], err
