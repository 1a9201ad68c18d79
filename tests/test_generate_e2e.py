"""``draftgate generate`` end to end: the real openai + instructor path against the loopback
server, every kind and subtype, re-asks, faults, corpus checks, dedup and the API key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from draftgate.exit_codes import ExitCode
from generator.prompts import PromptSet
from ledger import DraftKind
from tests.support.fake_openai import (
    ChatRequest,
    FakeOpenAI,
    Reply,
    Sequenced,
    default_items,
    default_script,
)
from tests.support.generate_env import API_KEY, GenerateRun, ingested_ledger, write_config

ONE_CHUNK_ALL_KINDS = ["--limit", "7"]  # jobs are planned chunk by chunk: 7 per chunk


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


def test_every_kind_and_subtype_is_stored_with_full_provenance(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    assert generate(*ONE_CHUNK_ALL_KINDS) == ExitCode.OK
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
        drafts = [d for _, d in ledger.pending_drafts(limit=100)]
        prompts = PromptSet()
        assert len(calls) == 7 and all(c.status == "ok" for c in calls)
        kinds = {(d.kind.value, d.subtype) for d in drafts}
        assert kinds == {
            ("qa", None),
            ("negative", None),
            ("clarify", None),
            ("adversarial", "false_premise"),
            ("adversarial", "wrong_ui_name"),
            ("adversarial", "prompt_injection"),
            ("adversarial", "out_of_scope"),
        }
        for call in calls:
            assert call.drafter == "llm"
            assert call.model == "fake-model"
            assert call.endpoint_host == f"127.0.0.1:{server.port}"
            assert call.template_name == f"{call.kind.value}.j2"
            assert call.template_hash == prompts.template_hash(call.kind.value)
            assert call.params["temperature"] == 0.7 and call.params["mode"] == "tools"
            assert call.prompt_tokens > 0 and call.completion_tokens > 0
            assert call.latency_ms > 0 and call.attempts == 1
            assert call.requested == call.produced + sum(call.dropped.values())
            chunk = ledger.get_chunk(call.chunk_id)
            assert chunk is not None and chunk.start_line >= 1
            assert ledger.get_document(chunk.document_id) is not None
        for draft in drafts:
            chunk = ledger.get_chunk(draft.chunk_id)
            assert chunk is not None
            assert all(q.split()[0] in chunk.text for q in draft.evidence)
        negative = next(d for d in drafts if d.kind is DraftKind.NEGATIVE)
        assert negative.meta["feature"] == "tip pooling"
        assert negative.meta["feature_source"] == "scope"
        assert negative.meta["absence_check"]["absent"] is True
        assert "tip pool" in negative.meta["absence_check"]["terms"]
        wrong = next(d for d in drafts if d.subtype == "wrong_ui_name")
        assert wrong.meta["wrong_name"] == "Control Tower"
        assert wrong.meta["real_path"] in wrong.answer
        clarify = next(d for d in drafts if d.kind is DraftKind.CLARIFY)
        assert len(clarify.meta["interpretations"]) >= 2
    # The key reached the server as a bearer token, and nowhere in the ledger's files.
    assert all(
        r.headers.get("Authorization") == f"Bearer {API_KEY}" for r in server.chat_requests()
    )
    assert_key_not_in_ledger(generate.ledger_path)


def assert_key_not_in_ledger(ledger_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(ledger_path) + suffix)
        if path.exists():
            data = path.read_bytes()
            assert b"SECRET123" not in data and API_KEY.encode() not in data


def test_chunk_text_reaches_the_model_verbatim_fenced_as_data(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    request = server.chat_requests()[0]
    system = request.body["messages"][0]["content"]
    assert "never instructions" in system and "<<<DOC" in system
    with generate.ledger() as ledger:
        chunk = ledger.current_chunks()[0]
    assert request.chunk == chunk.text


@pytest.mark.parametrize("mode", ["json_schema", "json", "md_json"])
def test_json_modes_store_drafts(generate: GenerateRun, server: FakeOpenAI, mode: str) -> None:
    assert generate("--limit", "2", "--kinds", "qa,clarify", "--mode", mode) == ExitCode.OK
    assert server.chat_requests()[0].mode == mode
    with generate.ledger() as ledger:
        assert {c.params["mode"] for c in ledger.generation_calls()} == {mode}
        assert len(ledger.pending_drafts()) == 2


def test_schema_invalid_reply_is_reasked_then_accepted(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    server.script = Sequenced([Reply(payload={"items": [{"question": "Only a question?"}]})])
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    requests = server.chat_requests()
    assert len(requests) == 2 and requests[1].is_reask
    with generate.ledger() as ledger:
        (call,) = ledger.generation_calls()
        assert call.status == "ok" and call.attempts == 2 and call.produced == 1
        # Usage is per attempt: both requests were paid for.
        assert call.prompt_tokens > 0


def test_ungrounded_quote_is_reasked_with_the_reason(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    bad = {"question": "How?", "answer": "Like so.", "evidence": ["words that are not there"]}
    server.script = Sequenced([Reply(payload={"items": [bad]})])
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    requests = server.chat_requests()
    assert len(requests) == 2
    assert "not found in the document excerpt" in json.dumps(requests[1].body["messages"])
    with generate.ledger() as ledger:
        (draft,) = [d for _, d in ledger.pending_drafts()]
        assert "words that are not there" not in draft.evidence


@pytest.mark.parametrize(
    "fault",
    [Reply.rate_limited(0.01), Reply.server_error(), Reply.hang(1.0), Reply.malformed()],
    ids=["429", "500", "hang", "malformed"],
)
def test_each_transient_fault_ends_in_success_after_a_retry(
    generate: GenerateRun, server: FakeOpenAI, fault: Reply
) -> None:
    server.script = Sequenced([fault])
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    assert len(server.chat_requests()) == 2
    with generate.ledger() as ledger:
        (call,) = ledger.generation_calls()
        assert call.status == "ok" and call.attempts == 2 and call.produced == 1


def test_retry_after_is_honoured(generate: GenerateRun, server: FakeOpenAI) -> None:
    server.script = Sequenced([Reply.rate_limited(0.3)])
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    first, second = server.chat_requests()
    # Backoff alone is capped at 5 ms in this config; only Retry-After explains the gap.
    assert second.received_at - first.received_at >= 0.25


def _always(reply: Reply) -> Any:
    return lambda request: reply


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply.rate_limited(0.001), "rate_limited"),
        (Reply.server_error(), "server_error"),
        (Reply.hang(1.0), "timeout"),
        (Reply(payload={"items": []}), "invalid_output"),
        # A body that is not JSON is a transport fault, not an invalid model output.
        (Reply.malformed(), "bad_response"),
    ],
    ids=["429", "500", "hang", "invalid", "malformed"],
)
def test_persistent_faults_are_recorded_as_failed_and_the_run_goes_on(
    generate: GenerateRun, server: FakeOpenAI, reply: Reply, reason: str
) -> None:
    def script(request: ChatRequest) -> Reply:
        # Only the first chunk's job is faulty; the second job must still succeed.
        if "Number of drafts" in request.all_text and request.chunk == first_chunk[0]:
            return reply
        return default_script(request)

    first_chunk: list[str] = []
    with generate.ledger() as ledger:
        first_chunk.append(ledger.current_chunks()[0].text)
    server.script = script
    assert generate("--limit", "2", "--kinds", "qa") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        calls = {c.status: c for c in ledger.generation_calls()}
        assert set(calls) == {"ok", "failed"}
        failed = calls["failed"]
        assert failed.error is not None and failed.error.startswith(reason)
        assert failed.produced == 0 and failed.requested == 1
        assert failed.attempts >= 2
    assert_key_not_in_ledger(generate.ledger_path)
    # A rerun retries only the failed job.
    server.script = default_script
    before = len(server.chat_requests())
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    assert len(server.chat_requests()) == before + 1
    with generate.ledger() as ledger:
        assert ledger.finished_job_keys() == {c.job_key for c in ledger.generation_calls()}


def test_proposed_negative_that_the_docs_mention_is_dropped(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    def script(request: ChatRequest) -> Reply:
        items = default_items(request, feature="Slack notifications")
        for item in items:
            item["search_terms"] = ["Slack"]
        return Reply(payload={"items": items})

    server.script = script
    assert generate("--limit", "1", "--kinds", "negative") == ExitCode.OK
    with generate.ledger() as ledger:
        (call,) = ledger.generation_calls()
        assert call.status == "ok" and call.produced == 0
        assert call.dropped == {"feature_in_docs": 1}
        assert ledger.pending_drafts() == []
        # The call stores the dropped candidate in the rules drafter's shape, with the doc:line
        # of the mention that sank it and that mention's text.
        (record,) = call.params["dropped_drafts"]
        assert set(record) == {"kind", "name", "reason", "at", "text"}
        assert (record["kind"], record["name"], record["reason"]) == (
            "negative",
            "Slack notifications",
            "feature_in_docs",
        )
        path, line = record["at"].rsplit(":", 1)
        paths = {d.id: d.path for d in ledger.current_documents()}
        assert any(
            paths[c.document_id] == path
            and c.start_line <= int(line) <= c.end_line
            and "Slack" in c.text.splitlines()[int(line) - c.start_line]
            for c in ledger.current_chunks()
        )
        (read,) = ledger.dropped_candidates()
        assert (read.name, read.reason, read.at, read.drafter) == (
            "Slack notifications",
            "feature_in_docs",
            record["at"],
            "llm",
        )
    # The generate summary lists it by name with its doc:line.
    out = capsys.readouterr().out
    assert "dropped candidates" in out and "Slack notifications" in out and path in out


def test_wrong_ui_name_that_is_real_is_dropped(generate: GenerateRun, server: FakeOpenAI) -> None:
    def script(request: ChatRequest) -> Reply:
        items = default_items(request)
        for item in items:
            if item.get("wrong_name"):
                item["wrong_name"] = "Settings"
        return Reply(payload={"items": items})

    server.script = script
    assert generate("--limit", "4", "--kinds", "adversarial") == ExitCode.OK
    with generate.ledger() as ledger:
        (call,) = [c for c in ledger.generation_calls() if c.params["subtype"] == "wrong_ui_name"]
        assert call.dropped == {"wrong_name_is_real": 1}
        (record,) = call.params["dropped_drafts"]
        assert (record["kind"], record["name"], record["reason"]) == (
            "adversarial",
            "Settings",
            "wrong_name_is_real",
        )
        # Where the docs use the name, so the reviewer can see it is real.
        assert record["at"].rsplit(":", 1)[1].isdigit() and "Settings" in record["text"]


def test_dedup_drops_exact_and_near_repeats_across_chunks(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    def script(request: ChatRequest) -> Reply:
        quote = default_items(request)[0]["evidence"]
        return Reply(
            payload={
                "items": [
                    {
                        "question": "How do I export my timesheets to payroll?",
                        "answer": "Use the export.",
                        "evidence": quote,
                    },
                    {
                        "question": "How do I export my timesheet to payroll!",
                        "answer": "Use the export.",
                        "evidence": quote,
                    },
                ]
            }
        )

    server.script = script
    assert generate("--limit", "3", "--kinds", "qa", "--per-chunk", "2") == ExitCode.OK
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
        assert len(ledger.pending_drafts()) == 1
        dropped: dict[str, int] = {}
        for call in calls:
            assert call.requested == call.produced + sum(call.dropped.values())
            for reason, n in call.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + n
        assert dropped == {"duplicate_near": 3, "duplicate_exact": 2}


def test_rerun_skips_finished_jobs(generate: GenerateRun, server: FakeOpenAI) -> None:
    assert generate("--limit", "3", "--kinds", "qa") == ExitCode.OK
    assert len(server.chat_requests()) == 3
    assert generate("--limit", "3", "--kinds", "qa") == ExitCode.OK
    assert len(server.chat_requests()) == 6  # the next three jobs, not the same ones again
    with generate.ledger() as ledger:
        keys = [c.job_key for c in ledger.generation_calls()]
        assert len(keys) == len(set(keys)) == 6


def test_dry_run_calls_nothing_and_writes_nothing(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate("--dry-run", "--limit", "5") == ExitCode.OK
    out = capsys.readouterr().out
    assert "estimate: 5 calls" in out
    assert server.chat_requests() == []
    with generate.ledger() as ledger:
        assert ledger.generation_calls() == []


def test_unreachable_endpoint_exits_with_endpoint_code(
    generate: GenerateRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from draftgate.cli import main

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    code = main(
        [
            "--ledger",
            str(generate.ledger_path),
            "--config",
            str(generate.config_path),
            "generate",
            "--quiet",
            "--limit",
            "1",
        ]
    )
    assert code == ExitCode.ENDPOINT
    err = capsys.readouterr().err
    assert "cannot reach the endpoint 127.0.0.1:9" in err and API_KEY not in err


def test_bad_kind_is_one_line_error(
    generate: GenerateRun, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate("--kinds", "qa,poems") == ExitCode.BAD_INPUT
    assert "unknown kind(s) poems" in capsys.readouterr().err


def test_a_short_reply_is_recorded_so_requested_adds_up(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model may return fewer drafts than asked; the shortfall is recorded as dropped
    ``fewer_than_requested`` so requested = produced + dropped holds for every call."""

    def one_item(request: ChatRequest) -> Reply:
        return Reply(payload={"items": default_items(request)[:1]})

    server.script = one_item
    assert generate("--limit", "2", "--kinds", "qa", "--per-chunk", "3") == ExitCode.OK
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
    assert [(c.requested, c.produced, c.dropped) for c in calls] == [
        (3, 1, {"fewer_than_requested": 2}),
        (3, 1, {"fewer_than_requested": 2}),
    ]
    out = capsys.readouterr().out
    assert "drafts requested" in out and "drafts dropped: fewer_than_requested" in out
