"""What every generate call sends and records, on the wire of the loopback server: schemas a
grammar-building server can take, a bounded ``max_tokens``, and failure records that describe
the last attempt with every attempt's reason in order."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from draftgate.exit_codes import ExitCode
from generator.calls import JobSpec
from generator.client import CallResult, ClientSettings, LLMClient, shorten
from generator.runner import ATTEMPT_ERRORS_PARAM, MAX_TOKENS_PARAM, Job, build_call
from generator.schemas import ANSWER_MAX, QAReply
from ledger import DraftKind, GenerationCall
from tests.support.fake_openai import (
    ChatRequest,
    FakeOpenAI,
    Reply,
    default_items,
    default_script,
)
from tests.support.generate_env import API_KEY, GenerateRun, ingested_ledger, write_config

ALL_MODES = ["tools", "json_schema", "json", "md_json"]
# JSON-schema keywords a grammar-building server expands into repetitions.
GRAMMAR_HEAVY = ("maxLength", "minLength", "maxItems", "minItems", "pattern")
ONE_CHUNK_ALL_KINDS = ["--limit", "7"]


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


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def sent_schema(request: ChatRequest) -> Any:
    """The schema the request carries, where its mode puts it: the tool's parameters, the
    response format's schema, or (JSON modes) the text of the messages."""
    body = request.body
    if request.mode == "tools":
        return [tool["function"]["parameters"] for tool in body["tools"]]
    if request.mode == "json_schema":
        return body["response_format"]["json_schema"]["schema"]
    return request.all_text


@pytest.mark.parametrize("mode", ALL_MODES)
def test_the_schema_on_the_wire_has_no_grammar_heavy_constraint(
    generate: GenerateRun, server: FakeOpenAI, mode: str
) -> None:
    assert generate(*ONE_CHUNK_ALL_KINDS, "--mode", mode) == ExitCode.OK
    requests = server.chat_requests()
    assert {r.kind for r in requests} >= {"qa", "negative", "clarify"}
    assert len(requests) == 7
    for request in requests:
        assert request.mode == mode
        schema = sent_schema(request)
        if isinstance(schema, str):
            # The JSON modes put the schema in the prompt: it is there, without the keywords.
            assert '"evidence"' in schema and '"properties"' in schema
            assert not [k for k in GRAMMAR_HEAVY if f'"{k}"' in schema]
        else:
            keys = set(_keys(schema))
            assert {"properties", "evidence", "answer"} <= keys
            assert keys.isdisjoint(GRAMMAR_HEAVY), keys & set(GRAMMAR_HEAVY)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_call_sends_max_tokens_sized_to_its_drafts(
    generate: GenerateRun, server: FakeOpenAI, mode: str
) -> None:
    args = ["--limit", "2", "--kinds", "qa", "--per-chunk", "2", "--max-tokens-per-draft", "250"]
    assert generate(*args, "--mode", mode) == ExitCode.OK
    requests = server.chat_requests()
    assert len(requests) == 2
    assert [r.body.get("max_tokens") for r in requests] == [500, 500]
    with generate.ledger() as ledger:
        assert [c.params[MAX_TOKENS_PARAM] for c in ledger.generation_calls()] == [500, 500]


def test_max_tokens_defaults_to_600_a_draft_and_reaches_reasks(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    answered: list[str] = []

    def one_bad_reply(request: ChatRequest) -> Reply:
        if not answered:
            answered.append("bad")
            return Reply(payload={"items": []})
        return default_script(request)

    server.script = one_bad_reply
    assert generate("--limit", "1", "--kinds", "qa", "--per-chunk", "3") == ExitCode.OK
    requests = server.chat_requests()
    assert len(requests) == 2 and requests[1].is_reask
    assert [r.body.get("max_tokens") for r in requests] == [1800, 1800]


@pytest.mark.parametrize("mode", ["tools", "json"])
def test_an_answer_past_the_limit_is_reasked(
    generate: GenerateRun, server: FakeOpenAI, mode: str
) -> None:
    """The limit left the schema but not the model: an over-long answer fails validation and
    is re-asked with the reason, as before."""

    def too_long_first(request: ChatRequest) -> Reply:
        items = default_items(request)
        if not request.is_reask:
            items[0]["answer"] = "word " * (ANSWER_MAX // 5 + 1)
        return Reply(payload={"items": items})

    server.script = too_long_first
    assert generate("--limit", "1", "--kinds", "qa", "--mode", mode) == ExitCode.OK
    requests = server.chat_requests()
    assert [r.is_reask for r in requests] == [False, True]
    assert f"at most {ANSWER_MAX} characters" in requests[1].all_text + json.dumps(
        requests[1].body["messages"]
    )
    with generate.ledger() as ledger:
        (call,) = ledger.generation_calls()
        (draft,) = [d for _, d in ledger.pending_drafts()]
    assert call.status == "ok" and call.attempts == 2
    assert len(draft.answer) <= ANSWER_MAX
    (reason,) = call.params[ATTEMPT_ERRORS_PARAM]
    assert reason.startswith("invalid_output: ") and f"at most {ANSWER_MAX}" in reason


def _only_first_chunk(generate: GenerateRun, script: Any) -> Any:
    with generate.ledger() as ledger:
        first = ledger.current_chunks()[0].text

    def faulty_first(request: ChatRequest) -> Reply:
        if request.chunk == first:
            return script(request)  # type: ignore[no-any-return]
        return default_script(request)

    return faulty_first


def _ungrounded(request: ChatRequest) -> Reply:
    items = default_items(request)
    items[0]["evidence"] = ["a sentence the docs never contain"]
    return Reply(payload={"items": items})


def test_a_failed_call_stores_its_last_attempts_error_and_every_reason_in_order(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ungrounded, then rate-limited until the attempts ran out: the call is rate_limited with
    the 429's own reason, not the first attempt's validation message."""
    seen: list[str] = []

    def script(request: ChatRequest) -> Reply:
        seen.append("x")
        if len(seen) == 1:
            return _ungrounded(request)
        return Reply(status=429, retry_after=0.001, error_message="slow down: 3 requests/min")

    server.script = _only_first_chunk(generate, script)
    assert generate("--limit", "2", "--kinds", "qa") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        failed = next(c for c in ledger.generation_calls() if c.status == "failed")
    assert failed.error == "rate_limited: HTTP 429: slow down: 3 requests/min"
    reasons = failed.params[ATTEMPT_ERRORS_PARAM]
    assert reasons[0].startswith("invalid_output: ") and "not found" in reasons[0]
    # The re-ask hit the 429, then two fresh transport attempts did (max_attempts = 3).
    assert reasons[1:] == ["rate_limited: HTTP 429: slow down: 3 requests/min"] * 3
    assert reasons[-1] == failed.error
    assert "calls failed: rate_limited" in capsys.readouterr().out


def test_a_call_that_ends_invalid_is_labelled_invalid_output_with_the_last_reason(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    served: list[str] = []

    def script(request: ChatRequest) -> Reply:
        served.append("x")
        if len(served) == 1:
            return Reply.rate_limited(0.001)
        if len(served) < 4:
            return _ungrounded(request)
        items = default_items(request)
        items[0]["evidence"] = ["x"]  # too short a quote: the last reason differs
        return Reply(payload={"items": items})

    server.script = _only_first_chunk(generate, script)
    assert generate("--limit", "2", "--kinds", "qa") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        failed = next(c for c in ledger.generation_calls() if c.status == "failed")
    reasons = failed.params[ATTEMPT_ERRORS_PARAM]
    assert [r.split(":")[0] for r in reasons] == ["rate_limited"] + ["invalid_output"] * 3
    assert failed.error is not None and failed.error == reasons[-1]
    assert "evidence quote must be 3-400 characters" in failed.error
    assert "not found" in reasons[1] and "not found" in reasons[2]


def test_a_long_server_message_is_cut_at_a_word_and_marked(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    message = " ".join(f"word{i:04d}" for i in range(400))  # 3,599 characters
    server.script = _only_first_chunk(
        generate, lambda request: Reply(status=500, error_message=message)
    )
    assert generate("--limit", "2", "--kinds", "qa") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        failed = next(c for c in ledger.generation_calls() if c.status == "failed")
    assert failed.error is not None
    kept, marker = re.fullmatch(r"(.*) \[…(\d+) more characters\]", failed.error).groups()  # type: ignore[union-attr]
    assert kept.startswith("server_error: HTTP 500: word0000 word0001")
    assert re.search(r"word\d{4}$", kept)  # whole words only
    assert len(kept.removeprefix("server_error: ")) + int(marker) == len("HTTP 500: " + message)


def test_requested_adds_up_on_every_call_and_in_the_summary(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    def script(request: ChatRequest) -> Reply:
        if request.kind == "negative":
            return Reply.server_error()
        return Reply(payload={"items": default_items(request)[:1]})  # fewer than asked

    server.script = script
    assert generate("--limit", "7", "--per-chunk", "3") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
    assert Counter(c.status for c in calls) == {"ok": 6, "failed": 1}
    for call in calls:
        failed = call.requested if call.status == "failed" else 0
        assert call.requested == call.produced + sum(call.dropped.values()) + failed
        if call.status == "failed":
            assert call.produced == 0 and call.dropped == {}
    table = dict(
        (label.strip(), int(count))
        for label, count in re.findall(r"│ ([a-z][^│]*?)\s*│\s*(\d+)\s*│", capsys.readouterr().out)
    )
    stored = sum(n for label, n in table.items() if label.startswith("drafts stored"))
    dropped = sum(n for label, n in table.items() if label.startswith("drafts dropped"))
    assert table["drafts requested"] == 21
    assert table["drafts requested"] == stored + dropped + table["drafts failed (with their calls)"]
    assert table["drafts failed (with their calls)"] == 3


def test_a_reply_cut_at_max_tokens_is_labelled_max_tokens(
    generate: GenerateRun, server: FakeOpenAI
) -> None:
    server.script = _only_first_chunk(
        generate, lambda request: Reply(raw_arguments='{"items": [', finish_reason="length")
    )
    assert generate("--limit", "2", "--kinds", "qa") == ExitCode.INCOMPLETE
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
    failed = next(c for c in calls if c.status == "failed")
    assert failed.error is not None and failed.error.startswith("max_tokens: ")
    assert "max_tokens_per_draft" in failed.error
    assert [c.status for c in calls].count("ok") == 1


def test_a_call_row_never_shows_more_dropped_than_requested(server: FakeOpenAI) -> None:
    """Should a drafter ever weigh more candidates than asked, the row records how many it
    weighed instead of dropping more than it requested."""
    spec = JobSpec("c1", "h1", DraftKind.QA, None, "llm", "qa.j2", "t1", "m", {}, 2)
    job = Job(spec, None, "doc.md", None)  # type: ignore[arg-type]
    client = LLMClient(ClientSettings(server.base_url, API_KEY, "m", mode="tools"))
    reply = CallResult(reply=QAReply.model_construct(items=[]))
    call: GenerationCall = build_call(
        job, reply, client, "2026-01-01T00:00:00Z", [], Counter(dup=3)
    )
    assert call.requested == 3 and sum(call.dropped.values()) == 3


def test_shorten_marks_what_it_cut() -> None:
    assert shorten("short text", 50) == "short text"
    cut = shorten("alpha beta gamma delta epsilon", 18)
    assert cut == "alpha beta gamma […14 more characters]"


def test_the_config_default_budget_is_the_generators() -> None:
    from draftgate.config import GenerateConfig
    from generator.settings import MAX_TOKENS_PER_DRAFT, GenerateSettings

    assert GenerateConfig().max_tokens_per_draft == MAX_TOKENS_PER_DRAFT == 600
    assert GenerateConfig().mode == GenerateSettings().mode == "auto"
