"""Reviewer identity and clocks: the suite's trials, and proof that the category counts a
ledger that keeps names as typed or stores a backwards clock as a dwell."""

from __future__ import annotations

from pathlib import Path

import ledger.quality
import pytest

import ledger.queue
import ledger.reviewers
import ledger.store
from tests.reliability import identity

SEED = 1


def test_every_spelling_is_one_person_and_every_backwards_clock_an_anomaly(
    tmp_path: Path,
) -> None:
    outcome = identity.run(identity.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == identity.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def test_names_kept_as_typed_are_counted_as_two_people_and_nameless_ones_as_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: a ledger that only trims names (no NFC, invisible characters kept)."""
    monkeypatch.setattr(ledger.store, "reviewer_name", _trim_only)
    monkeypatch.setattr(ledger.queue, "reviewer_name", _trim_only)
    outcome = identity.run(2, tmp_path, SEED)
    assert outcome.undetected > 0, outcome.summary()
    findings = "\n".join(outcome.findings)
    assert "decision signed as" in findings and "leases under" in findings
    assert "quality counts reviewers" in findings
    assert "the ledger signed a decision by the nameless" in findings


def _trim_only(name: str) -> str:
    if not name.strip():
        raise ledger.reviewers.InvalidReviewerName("empty")
    return name.strip()


def test_a_backwards_clock_stored_as_zero_dwell_or_counted_as_fast_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative controls: the ledger clamping a negative dwell to 0, and the quality signals
    not telling a clock anomaly from a fast decision."""

    def clamped(shown_at: str | None, decided_at: str) -> int | None:
        if shown_at is None:
            return None
        delta = ledger.store.parse_time(decided_at) - ledger.store.parse_time(shown_at)
        return max(0, int(delta.total_seconds() * 1000))

    monkeypatch.setattr(ledger.store, "dwell_of", clamped)
    stored = identity.run(1, tmp_path / "stored", SEED)
    assert stored.undetected > 0 and "clock went back" in stored.findings[0], stored.summary()
    monkeypatch.undo()
    monkeypatch.setattr(ledger.quality, "is_clock_anomaly", lambda *_args: False)
    counted = identity.run(1, tmp_path / "counted", SEED)
    assert counted.undetected > 0, counted.summary()
    assert all("clock anomalies" in f for f in counted.findings), counted.summary()
