"""A killed run resumes with no duplicates; ``--batch`` round-trips and resumes by batch id;
the offline branch drafts with the rules drafter."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from generator.batch import run_batch
from generator.client import ClientSettings, LLMClient
from generator.dedup import DedupIndex
from generator.prompts import PromptSet
from generator.runner import DraftChecker, plan_jobs
from generator.scope import load_scope
from ledger import Ledger
from ledger.text import normalise
from tests.support.builders import REPO_ROOT, SAMPLE_DOCS
from tests.support.fake_openai import ChatRequest, FakeOpenAI, Reply, default_script
from tests.support.generate_env import API_KEY, GenerateRun, ingested_ledger, write_config


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def generate(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> GenerateRun:
    return GenerateRun(
        ingested_ledger(tmp_path, tmp_path_factory), write_config(tmp_path), server, monkeypatch
    )


def _ok_calls(ledger_path: Path) -> int:
    with Ledger.open(ledger_path) as ledger:
        return ledger.status().calls.get("ok", 0)


def test_killed_run_resumes_with_no_duplicates_and_no_lost_call(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    server.latency_s = 0.05
    jobs = 40
    argv = [
        sys.executable,
        "-m",
        "draftgate",
        "--ledger",
        str(generate.ledger_path),
        "--config",
        str(generate.config_path),
        "generate",
        "--quiet",
        "--kinds",
        "qa,clarify",
        "--limit",
        str(jobs),
        "--concurrency",
        "2",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": API_KEY,
    }
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _ok_calls(generate.ledger_path) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Ledger.open(generate.ledger_path) as ledger:
        before = {c.id for c in ledger.generation_calls()}
    assert 6 <= len(before) < jobs, "the run must be killed mid-way"

    server.latency_s = 0.0
    assert generate("--kinds", "qa,clarify", "--limit", str(jobs - len(before))) == ExitCode.OK
    with Ledger.open(generate.ledger_path) as ledger:
        calls = ledger.generation_calls()
        drafts = [d for _, d in ledger.pending_drafts(limit=1000)]
    assert before <= {c.id for c in calls}  # every call finished before the kill is kept
    keys = [c.job_key for c in calls]
    assert len(keys) == len(set(keys)) == jobs  # each job done exactly once
    questions = [(d.kind, normalise(d.question)) for d in drafts]
    assert len(questions) == len(set(questions))
    assert len(drafts) == sum(c.produced for c in calls)


def test_batch_round_trips_through_validation_and_dedup(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    def script(request: ChatRequest) -> Reply:
        if request.kind == "clarify":  # a reply that fails validation: no re-ask in a batch
            return Reply(payload={"items": [{"question": "Which?"}]})
        return default_script(request)

    server.script = script
    assert generate("--batch", "--limit", "7") == ExitCode.INCOMPLETE
    uploads = [r for r in server.requests if r.path == "/v1/files"]
    assert [u.body["purpose"] for u in uploads] == ["batch"]
    assert len(server.batches) == 1 and server.chat_requests() == []
    assert not Path(str(generate.ledger_path) + ".batch.json").exists()
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
        assert len(calls) == 7
        batch_id = next(iter(server.batches))
        assert {c.params["batch_id"] for c in calls} == {batch_id}
        failed = [c for c in calls if c.status == "failed"]
        assert [c.kind.value for c in failed] == ["clarify"]
        assert failed[0].error is not None and failed[0].error.startswith("invalid_output")
        assert {d.kind.value for _, d in ledger.pending_drafts()} == {
            "qa",
            "negative",
            "adversarial",
        }


def test_batch_resumes_by_batch_id_after_an_interrupt(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    ledger = Ledger.open(generate.ledger_path)
    scope = load_scope(SAMPLE_DOCS / "scope.toml")
    plan = plan_jobs(
        ledger,
        scope,
        PromptSet(),
        kinds=["qa"],
        per_chunk=1,
        model="fake-model",
        params={"temperature": 0.7, "mode": "tools"},
        limit=3,
    )
    client_settings = ClientSettings(server.base_url, API_KEY, "fake-model")
    state = Path(str(generate.ledger_path) + ".batch.json")

    class Interrupted(Exception):
        pass

    def interrupt_on_poll(message: str) -> None:
        if "in_progress" in message:
            raise Interrupted

    async def first() -> None:
        client = LLMClient(client_settings)
        try:
            await run_batch(
                ledger,
                client,
                plan.jobs,
                DraftChecker(ledger, scope, DedupIndex()),
                state,
                poll_s=0.01,
                log=interrupt_on_poll,
            )
        finally:
            await client.close()

    with pytest.raises(Interrupted):
        asyncio.run(first())
    assert json.loads(state.read_text())["batch_id"] in server.batches
    ledger.close()
    assert generate("--batch", "--kinds", "qa", "--limit", "3") == ExitCode.OK
    assert len(server.batches) == 1  # the same batch was polled, not a new one created
    assert not state.exists()
    with generate.ledger() as reopened:
        assert len(reopened.generation_calls()) == 3


def test_offline_branch_uses_the_rules_drafter(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no endpoint, generate says so in one line and the rules drafter fills the ledger."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    ledger_path = ingested_ledger(tmp_path, tmp_path_factory)
    args = ["--ledger", str(ledger_path), "--config", str(write_config(tmp_path)), "generate"]
    assert main([*args, "--quiet", "--kinds", "qa,negative"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "no LLM endpoint configured" in captured.err
    assert "drafts stored: qa" in captured.out and "drafts stored: negative" in captured.out
    with Ledger.open(ledger_path) as ledger:
        calls = ledger.generation_calls()
        assert calls and {c.drafter for c in calls} == {"rules/1"}
        assert {c.kind.value for c in calls} == {"qa", "negative"}
        kinds = ledger.status().drafts_by_kind
        assert set(kinds) == {"qa", "negative"}
    # A rerun finds every job finished and stores nothing new.
    assert main([*args, "--quiet", "--kinds", "qa,negative"]) == ExitCode.OK
    with Ledger.open(ledger_path) as ledger:
        assert len(ledger.generation_calls()) == len(calls)


def test_progress_bar_runs_for_both_drafters(
    generate: GenerateRun, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --quiet the rich progress bar renders (the other tests switch it off)."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    args = [
        "--ledger",
        str(generate.ledger_path),
        "--config",
        str(generate.config_path),
        "generate",
        "--limit",
        "2",
        "--kinds",
        "qa",
    ]
    assert main(args) == ExitCode.OK
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert main(args) == ExitCode.OK
