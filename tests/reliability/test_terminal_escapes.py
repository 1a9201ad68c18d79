"""Terminal escapes from the docs: the suite's trials, and proof that the screen scan finds an
escape that a renderer lets through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import terminal_escapes

SEED = 1


def test_no_control_character_reaches_the_terminal(tmp_path: Path) -> None:
    outcome = terminal_escapes.run(terminal_escapes.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == terminal_escapes.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def test_the_scan_finds_escapes_a_renderer_lets_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: with control characters passed through unchanged, every trial's
    screens carry them and the card has no mark, and the category counts it."""
    monkeypatch.setattr("tui.render.visible", lambda text: text)
    monkeypatch.setattr("tui.render.has_controls", lambda text: False)
    outcome = terminal_escapes.run(1, tmp_path, SEED)
    assert outcome.crashed == 0 and outcome.lost == 0, outcome.summary()
    assert outcome.undetected >= 2, outcome.summary()
    assert any("sent U+001B" in f for f in outcome.findings), outcome.summary()
    assert any("does not mark" in f for f in outcome.findings), outcome.summary()
