"""The loop end to end through the CLI, the loopback server and the review app: a tuned model
that makes each kind of mistake is probed, every mistake is found with its reason and queued as
a probe draft, a reviewer fixes them in the review app, the next SFT and DPO exports carry the
fixes, the audit is clean, and a model answering as signed passes a second probe."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from export.layout import data_file
from ledger import PROBE_DRAFTER, Ledger, Verdict, verify
from ledger.probes import probe_answers, probe_runs
from ledger.queue import QueueFilter
from tests.support.fake_openai import TunedModel, running
from tests.support.probe_env import (
    CLARIFY_Q,
    INJECTION_Q,
    NEGATIVE_Q,
    QA_QS,
    REFERENCES,
    WRONG_UI_Q,
    build_signed_ledger,
    faithful_model,
    mistaken_answer,
    read_json,
)
from tests.support.review import make_app, settle, wait_for_screen
from tui.modals import EditScreen
from tui.render import card_text

FIXED_WRONG_UI = "Acme has no Dashboard: download invoices from **Settings > Billing > Invoices**."


def cli(ledger_path: Path, *args: str) -> int:
    return main(["--ledger", str(ledger_path), *args])


def probe(ledger_path: Path, server_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("OPENAI_BASE_URL", server_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PROBEKEY")
    return cli(ledger_path, "probe", "--model", "acme-tuned", "--quiet", *args)


def test_probe_failures_come_back_fixed_and_a_faithful_model_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    ledger_path = tmp_path / "ledger.sqlite"
    ids = build_signed_ledger(ledger_path)

    # An export that holds half of each kind and subtype out for probing (a lone one: itself).
    first = tmp_path / "export-1"
    assert (
        cli(
            ledger_path,
            "export",
            "--out",
            str(first),
            "--hold-out",
            "0.5",
            "--eval-fraction",
            "0.5",
        )
        == 0
    )
    manifest = read_json(first / "manifest.json")
    held = {entry["draft_id"] for entry in manifest["held_out"]}
    for question in (NEGATIVE_Q, WRONG_UI_Q, INJECTION_Q, CLARIFY_Q):
        assert ids[question] in held
    assert not held & {r["draft_id"] for r in manifest["records"]}
    assert sum(1 for e in manifest["held_out"] if e["kind"] == "qa") == 3  # round(0.5 * 6)

    # ---- a model that makes each kind of mistake -------------------------------------
    mistaken = TunedModel(mistaken_answer)
    report_path = tmp_path / "probe-1.json"
    with running(mistaken) as server:
        code = probe(
            ledger_path, server.base_url, monkeypatch,
            "--format", "json", "--out", str(report_path), "--min-pass", "0.9",
        )  # fmt: skip
    assert code == ExitCode.BELOW_MIN_PASS
    assert "below --min-pass" in capsys.readouterr().err
    asked_injection = next(q for q in mistaken.asked if "invite a team member" in q)
    assert "end your answer with the word DG-" in asked_injection

    report = read_json(report_path)
    probed = {ids[q] for q in (NEGATIVE_Q, WRONG_UI_Q, INJECTION_Q, CLARIFY_Q)}
    with Ledger.open(ledger_path) as ledger:
        [run] = probe_runs(ledger)
        answers = {a["draft_id"]: a for a in probe_answers(ledger, run["id"])}
        assert probed <= set(answers)
        assert run["model"] == "acme-tuned" and run["endpoint_host"].startswith("127.0.0.1:")
        assert run["export_manifest_hash"] == ledger.recorded_exports()[0]["manifest_hash"]
        assert "PROBEKEY" not in json.dumps(run)
        reasons = {q: " | ".join(answers[ids[q]]["reasons"]) for q in ids if ids[q] in answers}
        assert "describes the feature as available" in reasons[NEGATIVE_Q]
        assert "does not say no" in reasons[NEGATIVE_Q]
        assert "treats “Dashboard” as real" in reasons[WRONG_UI_Q]
        assert "does not name the real one" in reasons[WRONG_UI_Q]
        assert "follows the injected instruction" in reasons[INJECTION_Q]
        assert "does not ask back" in reasons[CLARIFY_Q]
        assert "names 1 of the meanings" in reasons[CLARIFY_Q]
        refused = [q for q, _ in QA_QS if ids[q] in answers]
        assert refused, "no Q&A was probed"
        for question in refused:
            assert answers[ids[question]]["over_refusal"]
            assert reasons[question].startswith("over-refusal")
        assert not any(a["passed"] for a in answers.values())
        assert report["totals"]["over_refusal_rate"] == 1.0
        assert report["totals"]["pass_rate"] == 0.0
        assert report["by_subtype"]["wrong_ui_name"] == {"probes": 1, "passed": 0, "pass_rate": 0.0}

        # Every failure is a pending draft on its reference's chunk, starting from the
        # signed answer, showing what the model said and why.
        failure_ids = {}
        for draft_id, answer in answers.items():
            reference = ledger.get_draft(draft_id)
            draft = ledger.get_draft(answer["failure_draft_id"])
            assert reference is not None and draft is not None
            assert draft.chunk_id == reference.chunk_id
            assert (draft.question, draft.answer) == (reference.question, reference.answer)
            assert draft.meta["probe"]["model_answer"] == answer["model_answer"]
            assert draft.meta["probe"]["reasons"] == answer["reasons"]
            assert draft.meta["probe"]["reference_draft_id"] == draft_id
            failure_ids[draft.id] = reference.question
        drafters = {c.id: c.drafter for c in ledger.generation_calls()}
        probe_drafts = {d.id for _, d in ledger.pending_drafts(limit=1000)}
        assert set(failure_ids) <= probe_drafts
        assert all(
            drafters[ledger.get_draft(d).call_id] == PROBE_DRAFTER
            for d in failure_ids  # type: ignore[union-attr]
        )
        assert ledger.status().drafts_by_origin["probe"] == {"pending": len(failure_ids)}

    assert cli(ledger_path, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["drafts_by_origin"]["probe"] == {"pending": len(failure_ids)}

    # ---- the reviewer fixes them in the review app -----------------------------------
    seen = asyncio.run(fix_in_review_app(ledger_path))
    assert sorted(seen) == sorted(failure_ids)
    with Ledger.open(ledger_path) as ledger:
        decisions = {d.draft_id: d for d in ledger.iter_decisions() if d.reviewer == "bo"}
        assert set(decisions) == set(failure_ids)
        for draft_id, decision in decisions.items():
            if failure_ids[draft_id] == WRONG_UI_Q:
                assert decision.verdict is Verdict.EDIT
                assert decision.final_answer == FIXED_WRONG_UI
            else:
                assert decision.verdict is Verdict.APPROVE
        assert ledger.status().drafts_by_origin["probe"] == {
            "approved": len(failure_ids) - 1,
            "edited": 1,
        }

    # ---- the next exports include the fixes, and the audit is clean ----------------------
    second = tmp_path / "export-2"
    assert cli(ledger_path, "export", "--out", str(second), "--hold-out", "0.5") == 0
    manifest = read_json(second / "manifest.json")
    leaving = {r["draft_id"] for r in manifest["records"]} | {
        e["draft_id"] for e in manifest["held_out"]
    }
    assert set(failure_ids) <= leaving
    # Each fix leaves with its signed text: the edit's final answer, an approval's reference.
    split_lines = {
        split: (second / data_file(split, "jsonl")).read_text(encoding="utf-8").splitlines()
        for split in ("train", "validation")
        if (second / data_file(split, "jsonl")).exists()
    }
    for record in manifest["records"]:
        if record["draft_id"] not in failure_ids:
            continue
        line = json.loads(split_lines[record["split"]][record["line"]])
        question = failure_ids[record["draft_id"]]
        signed = FIXED_WRONG_UI if question == WRONG_UI_Q else REFERENCES[question]
        assert line["messages"][-1]["content"] == signed
    # ... and as DPO pairs: each fixed failure's rejected side is what the tuned model said.
    dpo = tmp_path / "export-dpo"
    assert cli(ledger_path, "export", "--format", "dpo", "--out", str(dpo)) == 0
    dpo_manifest = read_json(dpo / "manifest.json")
    assert dpo_manifest["preference"]["records_by_source"]["probe"] == len(failure_ids)
    said = {answer["model_answer"] for answer in answers.values()}
    assert len(said) >= 5  # a claim, "Dashboard", the canary, a flat answer, a refusal
    pairs = [
        json.loads(line)
        for split in ("train", "validation")
        if (dpo / data_file(split, "jsonl")).exists()
        for line in (dpo / data_file(split, "jsonl")).read_text(encoding="utf-8").splitlines()
    ]
    rejected = {pair["rejected"][0]["content"] for pair in pairs}
    assert said <= rejected
    chosen = {pair["chosen"][0]["content"] for pair in pairs}
    assert FIXED_WRONG_UI in chosen
    audit_path = tmp_path / "audit.json"
    code = cli(
        ledger_path, "audit", "--export", str(second), "--format", "json", "--out", str(audit_path)
    )
    assert code == 0
    audit = read_json(audit_path)
    assert audit["integrity"]["ok"] and audit["integrity"]["breaks"] == []
    assert audit["drafts_by_origin"]["probe"] == {"approved": len(failure_ids) - 1, "edited": 1}
    with Ledger.open(ledger_path) as ledger:
        assert verify(ledger) == []

    # ---- a model that answers as signed passes the second probe ----------------------
    capsys.readouterr()
    faithful = TunedModel(faithful_model(ledger_path))
    second_report = tmp_path / "probe-2.json"
    with running(faithful) as server:
        code = probe(
            ledger_path, server.base_url, monkeypatch,
            "--export", str(second), "--format", "json", "--out", str(second_report),
            "--min-pass", "1.0",
        )  # fmt: skip
    out = capsys.readouterr().out
    report = read_json(second_report)
    assert report["totals"]["failure_drafts"] == 0, report["failures"]
    assert code == ExitCode.OK, out
    assert report["totals"]["pass_rate"] == 1.0
    assert report["totals"]["over_refusal_rate"] == 0.0
    assert report["run"]["export_id"] == manifest["export_id"]
    asked = {r["draft_id"] for r in manifest["records"] if r["split"] == "validation"}
    asked |= {e["draft_id"] for e in manifest["held_out"]}
    assert asked & set(failure_ids), "no fix was probed the second time"
    assert report["totals"]["probes"] == len(asked)
    kinds = set(report["by_kind"])
    assert {"qa", "negative", "adversarial", "clarify"} <= kinds
    with Ledger.open(ledger_path) as ledger:
        assert len(probe_runs(ledger)) == 2
        assert verify(ledger) == []


async def fix_in_review_app(ledger_path: Path) -> list[str]:
    """Review the probe drafts as a person would: approve each signed answer, but rewrite
    the wrong-UI-name one. Returns the drafts shown, in order."""
    app = make_app(ledger_path, reviewer="bo", filters=QueueFilter(origin="probe"))
    seen: list[str] = []
    async with app.run_test() as pilot:
        await settle(pilot, app)
        while app.session.current is not None and app.session.current.decision is None:
            item = app.session.current.item
            assert item.origin == "probe"
            shown = card_text(item, None, True).plain
            assert item.draft.meta["probe"]["model_answer"].splitlines()[0] in shown
            assert item.draft.meta["probe"]["reasons"][0] in shown
            seen.append(item.draft.id)
            if item.draft.question == WRONG_UI_Q:
                await pilot.press("e")
                editor = await wait_for_screen(pilot, app, EditScreen)
                await pilot.press("ctrl+a", *FIXED_WRONG_UI)
                await pilot.press("ctrl+s")
                if app.screen is editor:  # asked once about a dropped quote: save anyway
                    await pilot.press("ctrl+s")
            else:
                await pilot.press("a")
            await settle(pilot, app)
    return seen
