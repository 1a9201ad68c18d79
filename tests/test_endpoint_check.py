"""``draftgate check``, ``generate --mode auto`` and a server that dies mid-run, against the
loopback server playing servers that lack modes or crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from generator.endpoint_check import CACHE_FILE, ModeCache, endpoint_key
from tests.support.fake_openai import (
    JSON_SCHEMA_REFUSAL,
    ChatRequest,
    FakeOpenAI,
    Reply,
    default_script,
    refusing,
)
from tests.support.generate_env import API_KEY, GenerateRun, ingested_ledger, write_config

# A server like llama-cpp-python's: json_schema answered with a 500 naming the literal error.
NO_JSON_SCHEMA = {"json_schema": Reply(status=500, error_message=JSON_SCHEMA_REFUSAL)}
ONLY_MD_JSON = {
    "tools": Reply(status=400, error_message="tools are not supported by this server"),
    "json_schema": Reply(status=500, error_message=JSON_SCHEMA_REFUSAL),
    "json": Reply(status=400, error_message="response_format json_object is not supported"),
}
NOTHING_WORKS = {
    **ONLY_MD_JSON,
    "md_json": Reply(status=503, error_message="model is still loading"),
}


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


def check(generate: GenerateRun, *args: str) -> int:
    generate.monkeypatch.setenv("OPENAI_BASE_URL", generate.server.base_url)
    generate.monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    return main(
        [
            "--ledger",
            str(generate.ledger_path),
            "--config",
            str(generate.config_path),
            "check",
            *args,
        ]
    )


def cache_of(generate: GenerateRun) -> Path:
    return generate.ledger_path.parent / CACHE_FILE


def test_check_reports_each_mode_with_the_servers_reason_and_recommends_one(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = refusing(NO_JSON_SCHEMA)
    assert check(generate, "--json") == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    assert report["endpoint"] == f"127.0.0.1:{server.port}/v1"
    assert report["models"] == {"listed": True, "models": ["fake-model"], "reason": None}
    modes = {m["mode"]: m for m in report["modes"]}
    assert list(modes) == ["tools", "json_schema", "json", "md_json"]
    refused = modes["json_schema"]
    assert refused["works"] is False and refused["error"] == "server_error"
    assert refused["reason"].startswith("HTTP 500: 1 validation error for")
    assert "literal_error" in refused["reason"]
    for mode in ("tools", "json", "md_json"):
        assert modes[mode]["works"] is True and modes[mode]["reason"] is None
        assert modes[mode]["latency_ms"] > 0
        assert modes[mode]["prompt_tokens"] > 0 and modes[mode]["completion_tokens"] > 0
    assert report["recommended"] == "tools"
    # One tiny call per mode, each bounded, and one transport attempt each (no retry).
    requests = server.chat_requests()
    assert [r.mode for r in requests] == ["tools", "json_schema", "json", "md_json"]
    assert all(r.body["max_tokens"] == 200 for r in requests)
    cached = json.loads(cache_of(generate).read_text())
    assert cached[f"127.0.0.1:{server.port}/v1"]["fake-model"]["mode"] == "tools"
    assert API_KEY not in cache_of(generate).read_text()


def test_check_prints_a_table_and_picks_the_only_working_mode(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = refusing(ONLY_MD_JSON)
    server.models_missing = True  # not fatal: the calls tell
    generate.monkeypatch.setenv("COLUMNS", "250")  # one table row per mode
    assert check(generate) == ExitCode.OK
    out = capsys.readouterr().out
    assert "models: not listed (HTTP 404: not found)" in out
    assert "http_400: HTTP 400: tools are not supported by this server" in out
    assert "recommended: --mode md_json" in out
    assert out.count("fails") == 3 and out.count("works") == 1


def test_check_exits_non_zero_when_no_mode_works(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = refusing(NOTHING_WORKS)
    assert check(generate, "--json") == ExitCode.ENDPOINT
    captured = capsys.readouterr()
    assert json.loads(captured.out)["recommended"] is None
    assert "no structured-output mode works" in captured.err
    assert "Traceback" not in captured.err
    assert not cache_of(generate).exists()


def test_check_names_an_unreachable_endpoint(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.stop()
    assert check(generate) == ExitCode.ENDPOINT
    err = capsys.readouterr().err
    assert "cannot reach the endpoint" in err and "Traceback" not in err


def test_check_names_a_server_that_crashed_on_a_mode(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = refusing({"tools": Reply.died()})
    assert check(generate, "--json") == ExitCode.ENDPOINT
    modes = json.loads(capsys.readouterr().out)["modes"]
    assert [m["error"] for m in modes] == ["connection"] * 4
    assert all("it may have crashed; see its log" in m["reason"] for m in modes)


def test_auto_mode_checks_once_caches_and_drafts_in_the_working_mode(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = refusing(
        {"tools": Reply(status=400, error_message="tools unsupported"), **NO_JSON_SCHEMA}
    )
    assert generate("--mode", "auto", "--limit", "2", "--kinds", "qa") == ExitCode.OK
    assert "mode auto: json (checked every mode" in capsys.readouterr().err
    requests = server.chat_requests()
    # The check's four tiny calls, then the two jobs in the mode it found.
    assert [r.mode for r in requests] == ["tools", "json_schema", "json", "md_json", "json", "json"]
    with generate.ledger() as ledger:
        assert {c.params["mode"] for c in ledger.generation_calls()} == {"json"}
    cache = ModeCache(cache_of(generate))
    assert cache.get(server.base_url, "fake-model") == "json"
    assert cache.get(server.base_url, "other-model") is None
    # A second run: the cached mode is confirmed with one tiny call, then used.
    assert generate("--mode", "auto", "--limit", "2", "--kinds", "qa,clarify") == ExitCode.OK
    assert "mode auto: json (cached in" in capsys.readouterr().err
    later = server.chat_requests()[len(requests) :]
    assert [r.mode for r in later] == ["json", "json", "json"]
    assert later[0].body["max_tokens"] == 200  # the confirming call is the tiny one


def test_auto_mode_rechecks_when_the_cached_mode_fails(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    ModeCache(cache_of(generate)).put(server.base_url, "fake-model", "json_schema")
    server.script = refusing(NO_JSON_SCHEMA)
    assert generate("--mode", "auto", "--limit", "1", "--kinds", "qa") == ExitCode.OK
    err = capsys.readouterr().err
    assert "the cached mode json_schema now fails (HTTP 500" in err
    assert "mode auto: tools (checked every mode" in err
    assert ModeCache(cache_of(generate)).get(server.base_url, "fake-model") == "tools"
    with generate.ledger() as ledger:
        assert [c.params["mode"] for c in ledger.generation_calls()] == ["tools"]


def test_auto_mode_with_no_working_mode_stops_before_any_job(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = refusing(NOTHING_WORKS)
    assert generate("--mode", "auto", "--limit", "2") == ExitCode.ENDPOINT
    err = capsys.readouterr().err
    assert "took no structured-output mode" in err and "model is still loading" in err
    with generate.ledger() as ledger:
        assert ledger.generation_calls() == []


def test_auto_is_the_default_mode(
    tmp_path: Path, generate: GenerateRun, server: FakeOpenAI
) -> None:
    config = generate.config_path.read_text().replace('mode = "tools"\n', "")
    generate.config_path.write_text(config)
    assert generate("--limit", "1", "--kinds", "qa") == ExitCode.OK
    assert cache_of(generate).exists()
    assert len(server.chat_requests()) == 5  # four check calls and the job


def test_dry_run_with_auto_makes_no_call_and_names_the_mode(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    ModeCache(cache_of(generate)).put(server.base_url, "fake-model", "md_json")
    assert generate("--mode", "auto", "--dry-run", "--limit", "2") == ExitCode.OK
    assert "mode md_json; nothing written" in " ".join(capsys.readouterr().out.split())
    assert server.chat_requests() == []


def test_the_cache_key_is_host_and_path_never_the_credentials() -> None:
    assert endpoint_key("http://user:pw@10.0.0.5:8080/v1/") == "10.0.0.5:8080/v1"
    assert endpoint_key(None) == "api.openai.com/v1"


def test_a_server_that_dies_mid_run_stops_the_run_with_a_clear_error(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    answered: list[ChatRequest] = []

    def dies_after_three(request: ChatRequest) -> Reply:
        if len(answered) >= 3:
            return Reply.died()
        answered.append(request)
        return default_script(request)

    server.script = dies_after_three
    assert generate("--limit", "21") == ExitCode.ENDPOINT  # three chunks' worth of jobs
    err = capsys.readouterr().err
    assert "closed the connection; it may have crashed; see its log" in err
    assert "Traceback" not in err
    with generate.ledger() as ledger:
        calls = ledger.generation_calls()
    ok = [c for c in calls if c.status == "ok"]
    failed = [c for c in calls if c.status == "failed"]
    assert len(ok) == 3  # what finished before the crash is kept
    # Not one failure per job left: the run stopped after a few connection errors.
    assert len(failed) < 4
    assert all(c.error is not None and c.error.startswith("connection") for c in failed)
    # A rerun against a live server picks up the rest.
    revived = FakeOpenAI().start()
    try:
        generate.server = revived
        # --limit counts unfinished jobs: the 18 left of the first run's 21.
        assert generate("--limit", "18") == ExitCode.OK
        assert len(revived.chat_requests()) == 18
        with generate.ledger() as ledger:
            finished = ledger.finished_job_keys()
        assert len(finished) == 21 and {c.job_key for c in ok} <= finished
    finally:
        revived.stop()


def test_check_never_prints_or_caches_the_key(
    generate: GenerateRun, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    echo = Reply(status=500, error_message=f"request with key {API_KEY} failed")
    server.script = refusing({"tools": echo, "json_schema": echo})
    assert check(generate, "--json") == ExitCode.OK
    captured = capsys.readouterr()
    reasons = [m["reason"] for m in json.loads(captured.out)["modes"][:2]]
    assert all(r.startswith("HTTP 500: request with key") for r in reasons)
    assert API_KEY not in captured.out + captured.err
    assert "SECRET123" not in cache_of(generate).read_text()
    server.accepted_key = "sk-other"  # now the key itself is refused
    assert check(generate) == ExitCode.ENDPOINT
    captured = capsys.readouterr()
    assert "refused the API key (HTTP 401)" in captured.err
    assert "SECRET123" not in captured.out + captured.err
