"""Hostile text in reports: the suite's trials and proof that the judge can fail."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import report_text

SEED = 1


def test_hostile_names_and_notes_reach_the_reports_inert(tmp_path: Path) -> None:
    outcome = report_text.run(report_text.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == report_text.SUITE_TRIALS
    assert outcome.clean, outcome.summary()


def test_the_judge_counts_raw_escapes_tags_and_markup() -> None:
    outcome = report_text.control()
    assert outcome.undetected == 3, outcome.summary()
