"""``draftgate probe`` through the CLI against the loopback server: exit codes, what the ledger
keeps of a run (and refuses to change), the LLM judge beside the code, bounded concurrency,
timeouts, reports, and the export's hold-out it probes."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from export import ExportError, ExportOptions, export
from ledger import Ledger, verify
from ledger.probes import probe_answers, probe_runs
from tests.support.builders import add_document, add_drafts
from tests.support.exports import approve_all
from tests.support.fake_openai import ChatRequest, Reply, TunedModel, running
from tests.support.probe_env import (
    NEGATIVE_Q,
    WRONG_UI_Q,
    build_signed_ledger,
    faithful_model,
    mistaken_answer,
    read_json,
)

KEY = "sk-test-NEVERSTORED"


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A signed ledger and one export holding half of each kind out."""
    monkeypatch.chdir(tmp_path)
    ledger_path = tmp_path / "ledger.sqlite"
    build_signed_ledger(ledger_path)
    out = tmp_path / "export"
    with Ledger.open(ledger_path) as ledger:
        export(ledger, ExportOptions(format="openai", out_dir=out, eval_fraction=0.5, hold_out=0.5))
    return ledger_path, out


def probe(
    ledger_path: Path, base_url: str | None, monkeypatch: pytest.MonkeyPatch, *args: str
) -> int:
    if base_url is not None:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return main(["--ledger", str(ledger_path), "probe", "--quiet", *args])


def test_hold_out_is_per_kind_and_subtype_and_the_same_whatever_the_seed(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    build_signed_ledger(ledger_path)
    held = []
    with Ledger.open(ledger_path) as ledger:
        for seed in (0, 7):
            out = tmp_path / f"export-{seed}"
            options = ExportOptions(format="openai", out_dir=out, seed=seed, hold_out=0.34)
            result = export(ledger, options)
            manifest = read_json(out / "manifest.json")
            held.append(sorted(e["draft_id"] for e in manifest["held_out"]))
            # round(0.34 * n) per (kind, subtype): 6 Q&As -> 2, every lone one -> 0
            assert result.held_out == {"qa": 2}
            assert manifest["hold_out"]["fraction"] == 0.34
            written = {r["draft_id"] for r in manifest["records"]}
            assert not written & set(held[-1])
            assert manifest["record_count"] == 10 - 2
    assert held[0] == held[1]


def test_an_export_without_hold_out_writes_no_hold_out_keys(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    build_signed_ledger(ledger_path)
    with Ledger.open(ledger_path) as ledger:
        export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "e"))
    manifest = read_json(tmp_path / "e" / "manifest.json")
    assert "hold_out" not in manifest and "held_out" not in manifest


def test_hold_out_must_be_below_one(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    ledger_path, _ = exported
    code = main(
        ["--ledger", str(ledger_path), "export", "--out", str(tmp_path / "x"), "--hold-out", "1"]
    )
    assert code == ExitCode.BAD_INPUT


def test_user_errors_end_in_one_line_and_their_exit_code(
    exported: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger_path, out = exported
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["--ledger", str(ledger_path), "probe"]) == ExitCode.BAD_INPUT
    assert "name the model under test" in capsys.readouterr().err
    assert main(["--ledger", str(ledger_path), "probe", "--model", "m"]) == ExitCode.ENDPOINT
    assert "no endpoint configured" in capsys.readouterr().err
    with running(TunedModel(mistaken_answer)) as server:
        code = probe(ledger_path, server.base_url, monkeypatch, "--model", "m", "--export", "nope")
        assert code == ExitCode.BAD_INPUT
        assert "not an export this ledger recorded" in capsys.readouterr().err
        # A manifest changed after the export was recorded: the run would not be linked to
        # what the ledger vouches for.
        manifest = out / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"seed": 0', '"seed": 1'))
        code = probe(ledger_path, server.base_url, monkeypatch, "--model", "m")
        assert code == ExitCode.INTEGRITY
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "changed since the export was recorded" in err
        assert server.chat_requests() == []
    with Ledger.open(ledger_path) as ledger:
        assert probe_runs(ledger) == []


def test_min_pass_decides_the_exit_code(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_path, _ = exported
    with running(TunedModel(faithful_model(ledger_path))) as server:
        assert (
            probe(ledger_path, server.base_url, monkeypatch, "--model", "m", "--min-pass", "1") == 0
        )
    with running(TunedModel(mistaken_answer)) as server:
        code = probe(ledger_path, server.base_url, monkeypatch, "--model", "m", "--min-pass", "0.5")
        assert code == ExitCode.BELOW_MIN_PASS
        # Without --min-pass a run with failures still succeeds: it is a measurement.
        assert probe(ledger_path, server.base_url, monkeypatch, "--model", "m") == ExitCode.OK


def test_a_run_is_stored_append_only_and_verified(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_path, _ = exported
    with running(TunedModel(mistaken_answer)) as server:
        assert probe(ledger_path, server.base_url, monkeypatch, "--model", "m") == 0
    with Ledger.open(ledger_path) as ledger:
        [run] = probe_runs(ledger)
        answers = probe_answers(ledger, run["id"])
        assert run["probe_count"] == len(answers) > 0
        assert run["params"]["temperature"] == 0.0 and run["params"]["max_tokens"] == 512
        assert verify(ledger) == []
    raw = Path(ledger_path).read_bytes()
    assert KEY.encode() not in raw
    db = sqlite3.connect(ledger_path)
    for sql in (
        "UPDATE probe_answers SET passed = 1",
        "DELETE FROM probe_answers",
        "UPDATE probe_runs SET model = 'x'",
        "DELETE FROM probe_runs",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    # Someone who drops the guard and edits an answer is caught by verify.
    db.execute("DROP TRIGGER probe_answers_no_update")
    db.execute("UPDATE probe_answers SET passed = 1 WHERE ordinal = 0")
    db.commit()
    db.close()
    with Ledger.open(ledger_path) as ledger:
        kinds = {b.kind for b in verify(ledger)}
    assert {"guard_missing", "probe_answer_changed"} <= kinds


def test_a_rerun_does_not_queue_a_failure_still_waiting_for_review(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_path, _ = exported
    with running(TunedModel(mistaken_answer)) as server:
        for _ in range(2):
            assert probe(ledger_path, server.base_url, monkeypatch, "--model", "m") == 0
    with Ledger.open(ledger_path) as ledger:
        first, second = probe_runs(ledger)
        assert first["failure_drafts"] == first["probe_count"] - first["passed_count"] > 0
        assert second["failure_drafts"] == 0
        assert ledger.status().drafts_by_origin["probe"] == {"pending": first["failure_drafts"]}


def test_no_drafts_stores_the_run_only(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_path, _ = exported
    with running(TunedModel(mistaken_answer)) as server:
        assert probe(ledger_path, server.base_url, monkeypatch, "--model", "m", "--no-drafts") == 0
    with Ledger.open(ledger_path) as ledger:
        [run] = probe_runs(ledger)
        assert run["failure_drafts"] == 0 and run["passed_count"] < run["probe_count"]
        assert "probe" not in ledger.status().drafts_by_origin


def test_the_llm_judge_verdict_is_stored_beside_the_codes(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ledger_path, _ = exported
    judged: list[ChatRequest] = []

    def judge(request: ChatRequest) -> dict[str, object]:
        judged.append(request)
        return {"passed": "Yes!" not in request.all_text, "reason": "judged by the rule"}

    report_path = tmp_path / "r.json"
    with running(TunedModel(mistaken_answer, judge=judge)) as server:
        code = probe(
            ledger_path, server.base_url, monkeypatch, "--model", "m", "--judge", "judge-m",
            "--format", "json", "--out", str(report_path),
        )  # fmt: skip
    assert code == 0
    with Ledger.open(ledger_path) as ledger:
        [run] = probe_runs(ledger)
        answers = probe_answers(ledger, run["id"])
    assert run["judge_model"] == "judge-m"
    assert len(judged) == len(answers)
    assert all(a["judge"]["model"] == "judge-m" for a in answers)
    negative = next(a for a in answers if a["question"] == NEGATIVE_Q)
    assert negative["judge"]["passed"] is False and negative["passed"] is False
    report = read_json(report_path)
    assert report["totals"]["judged"] == len(answers)
    # The judge failed only the negative, as the code did; elsewhere they disagree.
    assert report["totals"]["judge_agrees"] == 1


def test_concurrency_is_bounded(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_path, _ = exported
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most seen
    answer = faithful_model(ledger_path)

    def slow(request: ChatRequest) -> Reply:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            time.sleep(0.05)  # the server's latency, so that requests could overlap
            return Reply.text(answer(request.body["messages"][-1]["content"]))
        finally:
            with lock:
                in_flight[0] -= 1

    with running(slow) as server:
        code = probe(
            ledger_path, server.base_url, monkeypatch, "--model", "m", "--concurrency", "2"
        )
        assert code == ExitCode.OK
        assert len(server.chat_requests()) > 2
    assert 1 <= in_flight[1] <= 2


def test_a_hung_call_is_an_error_not_a_failure(
    exported: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    ledger_path, _ = exported
    config = tmp_path / "draftgate.toml"
    config.write_text(
        "[probe]\nmax_attempts = 2\nbackoff_initial_s = 0.001\nbackoff_max_s = 0.01\n"
    )
    answer = faithful_model(ledger_path)

    def hangs_on_one(request: ChatRequest) -> Reply:
        question = request.body["messages"][-1]["content"]
        if WRONG_UI_Q in question:
            return Reply(hang_s=2.0)  # past --timeout, on every attempt
        return Reply.text(answer(question))

    with running(hangs_on_one) as server:
        code = probe(
            ledger_path, server.base_url, monkeypatch, "--config", str(config), "--model", "m",
            "--timeout", "0.3",
        )  # fmt: skip
        hung_requests = [r for r in server.chat_requests() if WRONG_UI_Q in r.all_text]
    assert code == ExitCode.INCOMPLETE
    assert "1 probe call(s) failed" in capsys.readouterr().err
    assert len(hung_requests) == 2  # tried again once (max_attempts = 2), then given up
    with Ledger.open(ledger_path) as ledger:
        [run] = probe_runs(ledger)
        answers = probe_answers(ledger, run["id"])
        hung = next(a for a in answers if a["question"] == WRONG_UI_Q)
        assert hung["error"].startswith("timeout") and hung["failure_draft_id"] is None
        assert all(a["passed"] for a in answers if a["error"] is None)
        assert "probe" not in ledger.status().drafts_by_origin


def test_reports_escape_what_the_model_said(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ledger_path, _ = exported

    def hostile(question: str) -> str:
        return "<script>alert(1)</script> | **bold** \x1b[31m"

    for fmt in ("md", "html", "json"):
        out = tmp_path / f"report.{fmt}"
        with running(TunedModel(hostile)) as server:
            args = ("--model", "m", "--no-drafts", "--format", fmt, "--out", str(out))
            assert probe(ledger_path, server.base_url, monkeypatch, *args) == 0
        text = out.read_text(encoding="utf-8")
        if fmt == "json":
            report = json.loads(text)
            assert report["failures"][0]["model_answer"].startswith("<script>")
            continue
        assert "<script>" not in text and "\x1b" not in text
        assert ("&lt;script&gt;" in text) and ("␛" in text)


def test_the_faithful_answers_pass_every_kind(
    exported: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger_path, _ = exported
    out = tmp_path / "r.json"
    capsys.readouterr()
    with running(TunedModel(faithful_model(ledger_path))) as server:
        args = ("--model", "m", "--format", "json", "--out", str(out), "--json")
        assert probe(ledger_path, server.base_url, monkeypatch, *args) == 0
    report = read_json(out)
    assert json.loads(capsys.readouterr().out) == report  # --json: the report on stdout
    assert report["failures"] == []
    kinds = {"qa", "negative", "clarify", "wrong_ui_name", "prompt_injection"}
    assert set(report["by_subtype"]) == kinds
    assert set(report["by_source"]) == {"eval", "held_out"}


def test_an_export_holding_everything_out_says_so(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    with Ledger.open(ledger_path) as ledger:
        chunks = add_document(ledger)
        [draft_id] = add_drafts(ledger, chunks[0], count=1)
        approve_all(ledger, [draft_id])
        with pytest.raises(ExportError, match="holds out all 1 signed-off drafts"):
            export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "e", hold_out=0.9))
