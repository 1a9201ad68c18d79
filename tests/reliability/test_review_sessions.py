"""Review sessions: one name in two sessions, a source changed on screen, quit after a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import review_sessions

SEED = 6


def test_sessions_sources_and_quitting_hold_up(tmp_path: Path) -> None:
    outcome = review_sessions.run(review_sessions.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == review_sessions.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


@pytest.mark.parametrize(
    ("kind", "count"),
    [
        ("same_name", "undetected"),
        ("stale_on_screen", "undetected"),
        ("quit_after_failure", "crashed"),
    ],
)
def test_each_detector_counts_its_guard_turned_off(tmp_path: Path, kind: str, count: str) -> None:
    """Negative controls: sessions sharing one id (leases known by name only), a session that
    never checks its source again and an export that keeps stale records, a quit that waits
    for a release that fails: each counted."""
    outcome = review_sessions.run(1, tmp_path, SEED, kinds=(kind,), guards_off=True)
    assert outcome.trials == 1
    assert getattr(outcome, count) > 0, outcome.summary()


def test_an_export_that_keeps_stale_records_is_counted(tmp_path: Path) -> None:
    """The export half of the stale kind: the confirmed approval of changed text is exported
    only with --include-stale; an export run as if that were the default is counted."""
    outcome = review_sessions.run(1, tmp_path, SEED, kinds=("stale_on_screen",), guards_off=True)
    assert any("export wrote the stale record by default" in f for f in outcome.findings), (
        outcome.summary()
    )
