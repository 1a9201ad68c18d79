"""The audit's quality worker dies with its parent: the suite's trials and the control."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import audit_orphans

SEED = 1


def test_the_quality_worker_never_outlives_its_parent(tmp_path: Path) -> None:
    outcome = audit_orphans.run(audit_orphans.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == audit_orphans.SUITE_TRIALS
    assert outcome.clean, outcome.summary()


def test_the_judge_counts_a_child_that_ignores_its_parent(tmp_path: Path) -> None:
    outcome = audit_orphans.control(tmp_path)
    assert outcome.undetected == 1, outcome.summary()
