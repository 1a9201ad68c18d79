"""A full disk: the suite's trials and proof that the judge can fail."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import disk_full

SEED = 1


def test_a_full_disk_ends_in_one_line_and_leaves_the_ledger_intact(tmp_path: Path) -> None:
    outcome = disk_full.run(disk_full.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == disk_full.SUITE_TRIALS
    assert outcome.clean, outcome.summary()


def test_the_judge_counts_claimed_success_extra_lines_and_tracebacks() -> None:
    outcome = disk_full.control()
    assert (outcome.undetected, outcome.crashed) == (4, 1), outcome.summary()
