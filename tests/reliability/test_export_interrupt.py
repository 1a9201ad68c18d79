"""Interrupted exports: the suite's trials, proof that the judge can fail, and the moment the
random trials rarely hit (Ctrl-C right after the record) forced in-process."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import export.run as export_run
from export import ExportOptions, export
from export.folder import STAGING_PREFIX
from ledger import Ledger
from tests.reliability import export_interrupt
from tests.reliability.generate_harness import run_in_process
from tests.support.exports import build_mixed

SEED = 1


def test_an_interrupted_export_leaves_the_old_or_the_new_export_recorded(tmp_path: Path) -> None:
    outcome = export_interrupt.run(export_interrupt.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == export_interrupt.SUITE_TRIALS
    assert outcome.clean, outcome.summary()


def test_the_judge_counts_unrecorded_stranded_and_deleted_exports(tmp_path: Path) -> None:
    outcome = export_interrupt.control(tmp_path)
    assert (outcome.undetected, outcome.lost) == (1, 2), outcome.summary()
    assert "does not record" in outcome.findings[0]
    assert "previous export is gone" in outcome.findings[1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_right_after_the_record_waits_for_the_move(
    ledger: Ledger, ledger_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    build_mixed(ledger)
    out = tmp_path / "out"
    first = export(ledger, ExportOptions(format="openai", out_dir=out))
    real_record = export_run.record_export
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda s, _f: received.append(s))

    def record_then_signal(*args: Any) -> None:
        real_record(*args)
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(export_run, "record_export", record_then_signal)
    try:
        if signum == signal.SIGINT:
            with pytest.raises(KeyboardInterrupt):
                export(ledger, ExportOptions(format="openai", out_dir=out, force=True))
        else:
            export(ledger, ExportOptions(format="openai", out_dir=out, force=True))
            assert received == [signal.SIGTERM]  # delivered, after the move
    finally:
        signal.signal(signal.SIGTERM, previous)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["export_id"] != first.export_id
    assert manifest["export_id"] in {r["id"] for r in ledger.recorded_exports()}
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))
    audit = run_in_process(
        ["--ledger", str(ledger_path), "audit", "--export", str(out), "--format", "json",
         "--out", str(tmp_path / "audit.json")], {},
    )  # fmt: skip
    assert audit.code == 0, audit.stdout + audit.stderr


def test_a_failed_record_leaves_the_previous_export_in_place(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_mixed(ledger)
    out = tmp_path / "out"
    first = export(ledger, ExportOptions(format="openai", out_dir=out))
    before = sorted(p.name for p in out.iterdir())

    def refuse(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(export_run, "record_export", refuse)
    with pytest.raises(KeyboardInterrupt):
        export(ledger, ExportOptions(format="openai", out_dir=out, force=True))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["export_id"] == first.export_id
    assert sorted(p.name for p in out.iterdir()) == before
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))
