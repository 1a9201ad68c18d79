"""The generate pipeline called as a library: drafter choice, estimate, summary, errors."""

from __future__ import annotations

import pytest

from generator import pipeline
from generator.errors import InputError, NoChunksError
from generator.ingest import ingest_folder
from generator.pipeline import RunProgress
from generator.scope import load_scope
from generator.settings import GenerateSettings
from ledger import Ledger
from tests.support.builders import SAMPLE_DOCS

SCOPE = load_scope(SAMPLE_DOCS / "scope.toml")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def started(self, description: str, total: int | None) -> None:
        self.events.append(("started", description))

    def advanced(self, progress: RunProgress) -> None:
        self.events.append(("advanced", progress))

    def finished(self) -> None:
        self.events.append(("finished", None))

    def ledger_busy(self, wait_s: float) -> None:
        self.events.append(("busy", wait_s))

    def message(self, text: str) -> None:
        self.events.append(("message", text))


def test_without_an_endpoint_the_rules_drafter_runs_and_a_rerun_skips_it(ledger: Ledger) -> None:
    ingest_folder(ledger, SAMPLE_DOCS)
    settings = GenerateSettings(kinds=("qa", "negative"), per_chunk=1, limit=5)
    recorder = Recorder()
    summary = pipeline.run(ledger, SCOPE, settings, recorder)
    calls = ledger.generation_calls()
    assert summary.calls_ok == len(calls) == 5 and {c.drafter for c in calls} == {"rules/1"}
    assert summary.drafts_requested == 5 and summary.calls_failed == {}
    stored = sum(summary.drafts_by_kind.values())
    assert stored + sum(summary.dropped.values()) == summary.drafts_requested
    assert recorder.events[0] == ("started", "rules drafter")
    assert recorder.events[-1] == ("finished", None)
    last = recorder.events[-2][1]
    assert isinstance(last, RunProgress) and (last.done, last.total) == (5, 5)
    assert last.tokens is None  # the rules drafter spends no tokens
    rerun = pipeline.run(ledger, SCOPE, GenerateSettings(kinds=("qa", "negative"), per_chunk=1))
    assert rerun.jobs_skipped >= 5 and len(ledger.generation_calls()) == 5 + rerun.calls_ok


def test_estimate_plans_llm_jobs_and_prices_them_once(ledger: Ledger) -> None:
    ingest_folder(ledger, SAMPLE_DOCS)
    settings = GenerateSettings(api_key="sk-test", limit=7, price_in_per_mtok=2.0)
    estimate = pipeline.estimate(ledger, SCOPE, settings)
    assert len(estimate.jobs) == 7 and estimate.uses_llm
    assert estimate.prompt_tokens == sum(j.estimated_prompt_tokens for j in estimate.jobs)
    assert estimate.cost == settings.cost(estimate.prompt_tokens, estimate.completion_tokens)
    assert estimate.cost > 0 and ledger.generation_calls() == []


def test_an_empty_ledger_and_a_missing_prompts_folder_are_input_errors(ledger: Ledger) -> None:
    with pytest.raises(NoChunksError):
        pipeline.run(ledger, SCOPE, GenerateSettings())
    ingest_folder(ledger, SAMPLE_DOCS)
    with pytest.raises(InputError, match="prompts folder"):
        pipeline.estimate(ledger, SCOPE, GenerateSettings(prompts="/nonexistent/prompts"))
