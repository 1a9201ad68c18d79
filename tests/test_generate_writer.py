"""The generate path's ledger writer: it writes on the event loop, batches what finished in one
loop turn, and never puts the loop to sleep on another process's write lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger.store
from draftgate.exit_codes import ExitCode
from generator.client import ClientSettings, LLMClient
from generator.dedup import DedupIndex
from generator.prompts import PromptSet
from generator.runner import DraftChecker, RunReport, plan_jobs, run_jobs
from generator.scope import load_scope
from ledger import DraftIn, DraftKind, Ledger, LedgerBusyError, LedgerLockedError
from ledger.store import BUSY_TIMEOUT_MS
from tests.support.builders import SAMPLE_DOCS, add_document, generation_call
from tests.support.fake_openai import FakeOpenAI
from tests.support.generate_env import API_KEY, GenerateRun, ingested_ledger, write_config
from tests.support.locks import lock_held_elsewhere

SCOPE = load_scope(SAMPLE_DOCS / "scope.toml")


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def _run(path: Path, server: FakeOpenAI, jobs: int, concurrency: int) -> RunReport:
    """``jobs`` qa jobs through the real client against the loopback server."""

    async def go() -> RunReport:
        with Ledger.open(path) as opened:
            plan = plan_jobs(
                opened,
                SCOPE,
                PromptSet(),
                kinds=["qa"],
                per_chunk=1,
                model="fake-model",
                params={"temperature": 0.7, "mode": "tools"},
                limit=jobs,
            )
            client = LLMClient(ClientSettings(server.base_url, API_KEY, "fake-model"))
            try:
                return await run_jobs(
                    opened,
                    client,
                    plan.jobs,
                    DraftChecker(opened, SCOPE, DedupIndex()),
                    concurrency=concurrency,
                )
            finally:
                await client.close()

    return asyncio.run(go())


def _calls_in(path: Path) -> int:
    with Ledger.open(path) as opened:
        return len(opened.generation_calls())


def test_calls_go_on_while_another_process_holds_the_write_lock(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, server: FakeOpenAI
) -> None:
    """One call at a time: had the first write slept on the lock, on the event loop, the
    second call would never have been sent while the lock was held."""
    path = ingested_ledger(tmp_path, tmp_path_factory)
    jobs = 4
    answered_while_locked = threading.Event()
    outcome: dict[str, RunReport] = {}
    with lock_held_elsewhere(path) as release:
        runner = threading.Thread(target=lambda: outcome.update(report=_run(path, server, jobs, 1)))
        runner.start()
        for _ in range(400):
            if len(server.chat_requests()) >= jobs:
                answered_while_locked.set()
                break
            threading.Event().wait(0.025)
        assert _calls_in(path) == 0  # nothing could be written yet
        release.set()
    runner.join(30)
    assert answered_while_locked.is_set(), "the run stopped sending calls while the lock was held"
    assert outcome["report"].calls_ok == jobs
    assert _calls_in(path) == jobs


def test_a_lock_held_past_the_busy_timeout_fails_the_run_with_one_clear_error(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = ingested_ledger(tmp_path, tmp_path_factory)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", 150)
    with (
        lock_held_elsewhere(path),
        pytest.raises(LedgerLockedError, match="stayed locked by another process"),
    ):
        _run(path, server, 2, 2)
    assert _calls_in(path) == 0  # a rerun does both jobs again


def test_a_transaction_that_may_not_wait_is_refused_at_once_and_keeps_the_timeout(
    ledger: Ledger, ledger_path: Path
) -> None:
    add_document(ledger)
    with (
        lock_held_elsewhere(ledger_path),
        pytest.raises(LedgerBusyError),
        ledger.transaction(wait=False),
    ):
        pass
    assert ledger.query("PRAGMA busy_timeout")[0][0] == BUSY_TIMEOUT_MS
    with ledger.transaction(wait=False):
        pass  # free again: taken at once


def test_calls_written_together_keep_their_own_counts_and_exact_duplicates(
    ledger: Ledger,
) -> None:
    chunk = add_document(ledger)[0]
    same = DraftIn(
        kind=DraftKind.QA,
        question="How do I download an invoice?",
        answer="Open Settings > Billing > Invoices.",
        evidence=["Open **Settings > Billing > Invoices**"],
    )
    other = same.model_copy(update={"question": "Where are invoices kept?"})
    first, second = generation_call(chunk, requested=2), generation_call(chunk, requested=1)
    outcomes = ledger.record_calls([(first, [same, other]), (second, [same])])
    assert [len(o.stored_draft_ids) for o in outcomes] == [2, 0]
    assert outcomes[1].call.dropped == {"duplicate_exact": 1}
    stored = {c.id: c for c in ledger.generation_calls()}
    assert stored[first.id].produced == 2 and stored[second.id].produced == 0
    assert stored[second.id].dropped == {"duplicate_exact": 1}


def test_generate_says_when_finished_calls_wait_for_another_process(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The lock is let go only once the waiting line is on stderr, so the run must say it."""
    run = GenerateRun(
        ingested_ledger(tmp_path, tmp_path_factory), write_config(tmp_path), server, monkeypatch
    )
    said: list[str] = []
    with lock_held_elsewhere(run.ledger_path) as release:

        def release_once_said() -> None:
            for _ in range(400):
                said.append(capsys.readouterr().err)
                if "another process is writing the ledger" in "".join(said):
                    break
                threading.Event().wait(0.025)
            release.set()

        watcher = threading.Thread(target=release_once_said)
        watcher.start()
        code = run("--kinds", "qa", "--limit", "3")
        watcher.join(30)
    said.append(capsys.readouterr().err)
    assert code == ExitCode.OK
    assert "".join(said).count("another process is writing the ledger") == 1
    assert _calls_in(run.ledger_path) == 3
